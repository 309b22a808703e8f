/* pprof_types.h: short names for the pprof message types protoc-c generates
 * from profile.proto, for the stages that build or rewrite a pprof (render's
 * profile.pb, deliver's profile-store payloads). */
#ifndef STALLTRAP_RENDER_PPROF_TYPES_H
#define STALLTRAP_RENDER_PPROF_TYPES_H

#include "proto/profile.pb-c.h"

typedef Perftools__Profiles__Profile Profile;
typedef Perftools__Profiles__Sample Sample;
typedef Perftools__Profiles__Label Label;
typedef Perftools__Profiles__Location Location;
typedef Perftools__Profiles__Line Line;
typedef Perftools__Profiles__Function Function;
typedef Perftools__Profiles__Mapping Mapping;
typedef Perftools__Profiles__ValueType ValueType;

#endif
