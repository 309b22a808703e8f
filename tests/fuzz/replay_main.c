/* replay_main.c: a main() that feeds files to a libFuzzer target, for builds without libFuzzer (gcc, ASan+UBSan).
 *
 * usage: fuzz_NAME FILE_OR_DIR...   (a directory: every regular file in it, in name order)
 * Each file is read whole and passed to LLVMFuzzerTestOneInput once. A bug
 * the target finds aborts (the sanitizers or its own abort()); otherwise it
 * prints how many inputs it replayed and exits 0. Exit 1: a file could not be
 * read, or there was nothing to replay (an empty corpus passes nothing).
 */
#include <dirent.h>
#include <errno.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* Reads PATH whole and passes it to the target in a buffer of exactly its
 * size, so the sanitizers see any read past its end. 0, or -1 said on stderr. */
static int replay_file(const char *path)
{
	FILE *f = fopen(path, "rb");
	uint8_t *buf = NULL;
	size_t len = 0, cap = 0, n;

	if (!f) {
		fprintf(stderr, "replay: %s: %s\n", path, strerror(errno));
		return -1;
	}
	for (;;) {
		if (len == cap) {
			uint8_t *nb = realloc(buf, cap ? cap * 2 : 4096);

			if (!nb) {
				fprintf(stderr, "replay: %s: out of memory\n", path);
				free(buf);
				fclose(f);
				return -1;
			}
			buf = nb;
			cap = cap ? cap * 2 : 4096;
		}
		n = fread(buf + len, 1, cap - len, f);
		len += n;
		if (n == 0)
			break;
	}
	if (ferror(f)) {
		fprintf(stderr, "replay: %s: read error\n", path);
		free(buf);
		fclose(f);
		return -1;
	}
	fclose(f);
	/* an exact-size copy: the slack of buf would hide an overread */
	uint8_t *exact = malloc(len ? len : 1);

	if (!exact) {
		free(buf);
		return -1;
	}
	memcpy(exact, buf, len);
	free(buf);
	LLVMFuzzerTestOneInput(exact, len);
	free(exact);
	return 0;
}

static int by_name(const struct dirent **a, const struct dirent **b)
{
	return strcmp((*a)->d_name, (*b)->d_name);
}

int main(int argc, char **argv)
{
	size_t replayed = 0;
	int i, err = 0;

	for (i = 1; i < argc; i++) {
		struct dirent **ents;
		struct stat st;
		int n, j;

		if (stat(argv[i], &st) < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		if (!S_ISDIR(st.st_mode)) {
			err |= replay_file(argv[i]);
			replayed++;
			continue;
		}
		n = scandir(argv[i], &ents, NULL, by_name);
		if (n < 0) {
			fprintf(stderr, "replay: %s: %s\n", argv[i], strerror(errno));
			return 1;
		}
		for (j = 0; j < n; j++) {
			char path[4096];

			snprintf(path, sizeof(path), "%s/%s", argv[i], ents[j]->d_name);
			if (stat(path, &st) == 0 && S_ISREG(st.st_mode)) {
				printf("replay: %s\n", path);
				fflush(stdout);
				err |= replay_file(path);
				replayed++;
			}
			free(ents[j]);
		}
		free(ents);
	}
	printf("replayed %zu inputs\n", replayed);
	return err || !replayed ? 1 : 0;
}
