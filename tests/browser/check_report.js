// check_report.js: opens a capture directory's flamegraph.svg, timeline.svg and report.html in headless Chromium and checks they work.
//
// usage: node check_report.js --dir DIR --artifacts DIR [--search REGEX] [--zoom NAME]
//                             [--expect-lanes-text TEXT] [--bench]
//
// For each page: no console error, no uncaught exception, no dialog other
// than our own search prompt (a hostile symbol that broke out of its escaping
// would show up as an alert or an error), no request leaving the file. In the
// flame graph (standalone and inside report.html): Search highlights every
// frame whose name matches, and only those, and shows the share they cover,
// which must equal what report.json says; clicking a frame makes it span the
// full width; Reset Zoom restores the frames; tooltips carry ms and %.
// Screenshots go to --artifacts. --bench prints load, search and zoom times
// (for bench/render.sh) instead of failing on them. Exits 0 when all passed.
'use strict';

const fs = require('fs');
const os = require('os');
const path = require('path');
const { chromium } = require('playwright-core');

function parseArgs(argv) {
  const a = { search: 'futex|fsync', zoom: null, bench: false, expectLanesText: [] };
  for (let i = 2; i < argv.length; i++) {
    const k = argv[i];
    const v = () => { if (i + 1 >= argv.length) throw new Error(`${k} needs a value`); return argv[++i]; };
    if (k === '--dir') a.dir = v();
    else if (k === '--artifacts') a.artifacts = v();
    else if (k === '--search') a.search = v();
    else if (k === '--zoom') a.zoom = v();
    else if (k === '--expect-lanes-text') a.expectLanesText.push(v());
    else if (k === '--bench') a.bench = true;
    else throw new Error(`unknown argument ${k}`);
  }
  if (!a.dir || !a.artifacts) throw new Error('--dir and --artifacts are required');
  return a;
}

const args = parseArgs(process.argv);
const failures = [];
let checks = 0;
// soft: a check that depends on the profile's shape (that matches are wide
// enough to be drawn, that kernel frames are): only reported under --bench,
// where the profiles are made to be mostly narrow frames.
function check(ok, what, soft) {
  if (soft && args.bench) {
    console.log(`${ok ? 'ok  ' : 'info'} ${what}`);
    return;
  }
  checks++;
  if (!ok) failures.push(what);
  console.log(`${ok ? 'ok  ' : 'FAIL'} ${what}`);
}

// The share of the total off-CPU time in stacks with a frame matching re:
// what the flame graph's search must report (report.json frames carry the
// _[k] suffix the flame graph does not show; the thread name is a frame too).
// The graph's "All" view counts the time inside the window (window_ms where
// a stack has time outside it) and the on-CPU samples under "[on-CPU]".
function expectedPct(report, re) {
  let hit = 0, total = 0;
  const add = (names, ms) => {
    total += ms;
    if (names.some((n) => re.test(n))) hit += ms;
  };
  const frames = (s) => s.frames.map((f) => f.replace(/_\[k\]$/, ''));
  for (const s of report.stacks) add([s.comm, ...frames(s)], s.window_ms !== undefined ? s.window_ms : s.offcpu_ms);
  for (const s of report.oncpu_stacks || []) add(['[on-CPU]', s.comm, ...frames(s)], s.oncpu_ms);
  return total ? (hit / total) * 100 : 0;
}

// With a verdict the graph opens on the cause; the idle waits and all are
// one click away. Checks that, visits the idle view, and leaves the graph on
// "all", which the checks after it look at.
async function viewChecks(svg, label, report) {
  const kind = report.verdict && report.verdict.kind;
  const buttons = await svg.locator('.stf-viewbtn').count();
  const view = () => svg.getAttribute('data-view');
  const shown = (name) => svg.locator(`.stf-view[data-view="${name}"]`).evaluate((v) => getComputedStyle(v).display !== 'none');
  if (!kind || kind === 'none') {
    check(buttons === 0 && (await view()) === 'all', `${label}: no verdict: one view, everything`);
    return;
  }
  check((await view()) === 'cause' && (await shown('cause')) && !(await shown('all')),
    `${label}: verdict ${kind}: the graph opens on the cause (${await view()})`);
  const causeText = await svg.locator('.stf-view[data-view="cause"]').evaluate((v) => Array.from(v.querySelectorAll('g[data-w]')).map((g) => g.getAttribute('data-t').split('\n')[0]));
  check(causeText.length > 1, `${label}: the cause view has ${causeText.length} frames`);
  if (await svg.locator('.stf-viewbtn[data-view="idle"]').count()) {
    await svg.locator('.stf-viewbtn[data-view="idle"]').click({ force: true });
    check((await view()) === 'idle' && (await shown('idle')) && !(await shown('cause')),
      `${label}: one click shows the idle waits`);
  }
  await svg.locator('.stf-viewbtn[data-view="all"]').click({ force: true });
  check((await view()) === 'all' && (await shown('all')) && !(await shown('cause')), `${label}: one click shows all`);
}

// Watches a page for everything that must not happen.
function guard(page, label, state) {
  page.on('console', (m) => { if (m.type() === 'error') state.errors.push(`${label}: console error: ${m.text()}`); });
  page.on('pageerror', (e) => state.errors.push(`${label}: uncaught: ${e.message}`));
  page.on('request', (r) => {
    const u = r.url();
    if (!u.startsWith('file:') && !u.startsWith('data:') && !u.startsWith('about:'))
      state.errors.push(`${label}: request to ${u}`);
  });
  page.on('dialog', async (d) => {
    if (d.type() === 'prompt' && state.answer !== null) {
      const a = state.answer;
      state.answer = null;
      await d.accept(a);
    } else {
      state.errors.push(`${label}: unexpected ${d.type()} dialog: ${d.message()}`);
      await d.dismiss();
    }
  });
}

// Screenshot of a standalone SVG document: Chromium cannot take full-page
// shots of SVG documents (they never finish), so size the viewport to it.
async function svgShot(page, file) {
  const h = +(await page.locator('svg').first().getAttribute('height'));
  await page.setViewportSize({ width: 1280, height: Math.min(Math.max(h + 16, 200), 4000) });
  await page.screenshot({ path: file });
}

// Screenshot of an element, in a standalone SVG or an HTML page: the
// viewport is scrolled to it, and big enough for it.
async function elementShot(page, loc, file) {
  const box = await loc.boundingBox();
  const vp = page.viewportSize();
  if (box && box.height + 16 > vp.height)
    await page.setViewportSize({ width: vp.width, height: Math.min(Math.ceil(box.height) + 16, 4000) });
  await loc.scrollIntoViewIfNeeded();
  const b = await loc.boundingBox();
  await page.screenshot({ path: file, clip: { x: Math.max(b.x, 0), y: Math.max(b.y, 0), width: Math.min(b.width, 1280), height: Math.min(b.height, 4000) } });
}

// Runs the flame graph checks on the <svg class="stf-flame"> of the page.
async function flameChecks(page, label, report, state, shot) {
  const top = page.locator('svg.stf-flame');
  await viewChecks(top, label, report);
  // Every check below is on the view shown: all.
  const svg = top.locator('.stf-view[data-view="all"]');
  const frames = await svg.locator('g[data-w]').count();
  check(frames > 0, `${label}: ${frames} frames drawn`);
  const plotW = +(await top.getAttribute('data-plot-w'));
  const pad = +(await top.getAttribute('data-pad'));

  // Tooltips: hover the widest frame under the root; its box must show the
  // name, then milliseconds and percent.
  await svg.evaluate((s) => {
    let best = null, bw = -1;
    s.querySelectorAll('g[data-w]').forEach((e) => {
      const w = +e.getAttribute('data-w');
      if (w > bw && w < 1e9) { bw = w; best = e; }
      e.removeAttribute('data-test-hover');
    });
    if (best) best.setAttribute('data-test-hover', '1');
  });
  await svg.locator('g[data-test-hover] rect').hover({ force: true });
  const tip = await top.locator('.st-tip').evaluate((t) => (t.style.display === 'none' ? '' : Array.from(t.querySelectorAll('tspan')).map((x) => x.textContent).join('\n')));
  check(/\n[0-9.]+ ms, [0-9.]+%/.test(tip), `${label}: hovering shows a tooltip with ms and % (${JSON.stringify(tip)})`);
  await elementShot(page, top, path.join(args.artifacts, `${shot}-tooltip.png`));

  // Kernel and user frames are coloured apart.
  // (user frames: neither kernel nor thread name, nor the root, nor a merged box)
  const fills = await svg.locator('g[data-w]').evaluateAll((gs) => gs.map((g) => {
    const t = g.getAttribute('data-t');
    return { kernel: /, kernel$/.test(t),
      user: !/, (kernel|thread name)$/.test(t) && !/^all\n/.test(t) && !/^\[\d+ frames under/.test(t),
      fill: g.querySelector('rect').getAttribute('fill') };
  }));
  const kf = new Set(fills.filter((f) => f.kernel).map((f) => f.fill));
  const uf = new Set(fills.filter((f) => !f.kernel && f.user).map((f) => f.fill));
  check(kf.size > 0 && [...kf].every((c) => !uf.has(c)), `${label}: kernel frames (${kf.size} colours) coloured apart from user frames (${uf.size})`, true);

  // Search through the UI: the button opens a prompt we answer.
  const re = new RegExp(args.search);
  state.answer = args.search;
  const t0 = Date.now();
  await top.locator('.stf-search').click();
  await page.waitForFunction(() => /Matched/.test(document.querySelector('svg.stf-flame .stf-matched').textContent));
  const searchMs = Date.now() - t0;
  const res = await svg.locator('g[data-w]').evaluateAll((gs) => gs.map((g) => ({
    name: g.getAttribute('data-t').split('\n')[0],
    fill: g.querySelector('rect').getAttribute('fill') })));
  const hl = res.filter((r) => r.fill === '#ee00ee');
  check(hl.length > 0, `${label}: search '${args.search}' highlighted ${hl.length} frames`, true);
  check(hl.every((r) => re.test(r.name)) && res.filter((r) => re.test(r.name)).every((r) => r.fill === '#ee00ee'),
    `${label}: exactly the matching frames are highlighted`);
  const shown = await top.locator('.stf-matched').textContent();
  const m = /Matched: ([0-9.]+)%/.exec(shown);
  const want = expectedPct(report, re);
  check(m && Math.abs(+m[1] - want) < 0.05, `${label}: matched percentage shown '${shown}', report.json says ${want.toFixed(2)}%`, true);
  await elementShot(page, top, path.join(args.artifacts, `${shot}-search.png`));

  // Zoom: click a frame; it must then span the plot's full width. The widest
  // frame not already full width (or the widest named --zoom) is picked in
  // one pass in the page: per-element locators crawl on 20k frames.
  const picked = await svg.evaluate((s, o) => {
    let best = null, bw = -1, bn = '';
    s.querySelectorAll('g[data-w]').forEach((e) => {
      e.removeAttribute('data-test-target');
      const n = e.getAttribute('data-t').split('\n')[0];
      if (o.zoom ? n !== o.zoom : n === 'all') return;
      const w = +e.querySelector('rect').getAttribute('width');
      if (w > bw && w < o.pw - 0.5) { bw = w; best = e; bn = n; }
    });
    if (best) best.setAttribute('data-test-target', '1');
    return best ? bn : null;
  }, { pw: plotW, zoom: args.zoom });
  check(picked !== null, `${label}: a frame to zoom into`);
  if (picked === null) return { frames, searchMs };
  const g = svg.locator('g[data-test-target]');
  const name = picked;
  const before = +(await g.locator('rect').getAttribute('width'));
  const t1 = Date.now();
  await g.locator('rect').click({ force: true });
  const zoomMs = Date.now() - t1;
  const x = +(await g.locator('rect').getAttribute('x'));
  const w = +(await g.locator('rect').getAttribute('width'));
  check(Math.abs(x - pad) < 0.01 && Math.abs(w - plotW) < 0.01,
    `${label}: clicked '${name}' (${before.toFixed(1)} px) now spans the full width (x=${x}, width=${w} of ${plotW})`);
  const hidden = await svg.locator('g[data-w]').evaluateAll((gs) => gs.filter((e) => e.style.display === 'none').length);
  check(hidden > 0 || frames < 3, `${label}: frames outside the zoomed one are hidden (${hidden})`);
  await elementShot(page, top, path.join(args.artifacts, `${shot}-zoom.png`));

  await top.locator('.stf-reset').click({ force: true });
  const after = +(await g.locator('rect').getAttribute('width'));
  const hiddenAfter = await svg.locator('g[data-w]').evaluateAll((gs) => gs.filter((e) => e.style.display === 'none').length);
  check(Math.abs(after - before) < 0.01 && hiddenAfter === 0, `${label}: Reset Zoom restores the frames`);
  return { frames, searchMs, zoomMs };
}

async function main() {
  fs.mkdirSync(args.artifacts, { recursive: true });
  const report = JSON.parse(fs.readFileSync(path.join(args.dir, 'report.json'), 'utf8'));
  const profile = fs.mkdtempSync(path.join(os.tmpdir(), 'stalltrap-chromium-'));
  const ctx = await chromium.launchPersistentContext(profile, {
    executablePath: process.env.CHROMIUM || '/usr/bin/chromium',
    headless: true,
    viewport: { width: 1280, height: 900 },
    args: ['--no-sandbox', '--disable-gpu', '--disable-quic', '--no-first-run',
      '--disable-background-networking', '--disable-component-update', '--disable-sync'],
  });
  const timings = {};
  try {
    // The standalone flame graph.
    let state = { errors: [], answer: null };
    let page = await ctx.newPage();
    guard(page, 'flamegraph.svg', state);
    let t0 = Date.now();
    await page.goto('file://' + path.resolve(args.dir, 'flamegraph.svg'), { waitUntil: 'load' });
    timings.flame_load_ms = Date.now() - t0;
    await svgShot(page, path.join(args.artifacts, 'flamegraph.png'));
    Object.assign(timings, await flameChecks(page, 'flamegraph.svg', report, state, 'flamegraph'));
    check(state.errors.length === 0, `flamegraph.svg: no console errors, dialogs or requests ${JSON.stringify(state.errors)}`);
    await page.close();

    if (!args.bench) {
      // The timeline.
      state = { errors: [], answer: null };
      page = await ctx.newPage();
      guard(page, 'timeline.svg', state);
      await page.goto('file://' + path.resolve(args.dir, 'timeline.svg'), { waitUntil: 'load' });
      await svgShot(page, path.join(args.artifacts, 'timeline.png'));
      const text = await page.locator('svg').textContent();
      for (const t of args.expectLanesText) check(text.includes(t), `timeline.svg: shows '${t}'`);
      check(state.errors.length === 0, `timeline.svg: no console errors ${JSON.stringify(state.errors)}`);
      await page.close();
    }

    // The page, with both pictures inline.
    state = { errors: [], answer: null };
    page = await ctx.newPage();
    guard(page, 'report.html', state);
    t0 = Date.now();
    await page.goto('file://' + path.resolve(args.dir, 'report.html'), { waitUntil: 'load' });
    timings.html_load_ms = Date.now() - t0;
    await page.screenshot({ path: path.join(args.artifacts, 'report.png'), fullPage: !args.bench });
    check(await page.locator('svg.stt').count() === 1, 'report.html: the timeline is inline');
    check(await page.locator('svg.stf-flame').count() === 1, 'report.html: the flame graph is inline');
    check(await page.locator('table.sites tr').count() > 1, 'report.html: the call-site table has rows');
    // The cause first; with a verdict the idle waits are folded, one click away.
    const kind = report.verdict && report.verdict.kind;
    if (await page.locator('#idle-sites').count()) {
      const open = await page.locator('#idle-sites').evaluate((d) => d.open);
      check(open === (!kind || kind === 'none'), `report.html: the idle call sites are ${open ? 'open' : 'folded'} (verdict ${kind})`);
      if (!open) {
        await page.locator('#idle-sites > summary').click();
        check(await page.locator('#idle-sites table.idle').isVisible(), 'report.html: one click shows the idle call sites');
      }
    }
    check(await page.locator('#drops').count() === 1, 'report.html: the drops section is there');
    const verdict = report.verdict && report.verdict.summary;
    if (verdict) check((await page.locator('#verdict').textContent()).includes(verdict), 'report.html: shows the verdict');
    // Hostile names stay text: what the capture named is what the page shows.
    const hostile = report.stacks.slice(0, 25).flatMap((s) => s.frames).find((f) => /<\/script>|]]>|&/.test(f));
    if (hostile) {
      await page.locator('#idle-sites, table.sites details').evaluateAll((ds) => ds.forEach((d) => { d.open = true; }));
      const body = (await page.locator('table.sites').allTextContents()).join('\n');
      check(body.includes(hostile), `report.html: hostile name shown as text: ${JSON.stringify(hostile)}`);
    }
    await flameChecks(page, 'report.html', report, state, 'report-flame');
    check(state.errors.length === 0, `report.html: no console errors, dialogs or requests ${JSON.stringify(state.errors)}`);
    await page.close();
  } finally {
    await ctx.close();
    fs.rmSync(profile, { recursive: true, force: true });
  }
  if (args.bench) console.log('timings ' + JSON.stringify(timings));
  console.log(`${checks - failures.length} passed, ${failures.length} failed`);
  process.exit(failures.length ? 1 : 0);
}

main().catch((e) => { console.error('check_report: ' + (e && e.stack || e)); process.exit(1); });
