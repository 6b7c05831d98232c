// mdtool studio: player, editor and library browser over the service's JSON API
// (docs/studio.md). No framework: three small modules and the DOM. Everything the page learns
// about its own state is on `window.studio` (the tests and bench_studio.py read it).
import { Player } from "./player.js";
import { Strip } from "./strip.js";

const $ = (id) => document.getElementById(id);
const token = new URLSearchParams(location.hash.slice(1)).get("token");
const state = {
  timeline: null, key: null, undo: [], redo: [], song: null, analysis: null,
  ready: false, ready_ms: null, glb_ms: null, audio_ms: null, busy: 0, evaluation: null,
  alternatives: null, library: [], selectedPhrase: null, saved: null, agreement: null,
};
window.studio = state;
state.marks = { evaluated_ms: performance.now() }; // three.js and the modules compiled and run

// -- service calls ------------------------------------------------------------------------------

async function call(method, path, body, as = "json") {
  const headers = token ? { Authorization: `Bearer ${token}` } : {};
  const init = { method, headers };
  if (body instanceof Blob) init.body = body;
  else if (body !== undefined) {
    headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  return answer(await fetch(path, init), `${method} ${path.split("?")[0]}`, as);
}

/** The body of a response (as JSON, a blob, text or an ArrayBuffer), or its error message. */
async function answer(response, what, as = "json") {
  const [method, path] = what.split(" ");
  if (!response.ok) {
    let message = `${response.status}`;
    try { message = (await response.json()).error.message; } catch (_) { /* not JSON */ }
    throw new Error(`${method} ${path}: ${message}`);
  }
  if (as === "json") return response.json();
  if (as === "blob") return response.blob();
  if (as === "text") return response.text();
  return response.arrayBuffer();
}

function say(text) { $("status").textContent = text; }

async function work(text, job) {
  state.busy += 1;
  say(text);
  try {
    const result = await job();
    say("");
    return result;
  } catch (error) {
    say(String(error.message || error));
    console.warn(error);
    return null;
  } finally {
    state.busy -= 1;
  }
}

// -- player, strip, clock ---------------------------------------------------------------------

const audio = window.studioEarly.audio; // index.html loads the song into it early
const player = new Player($("viewport"), audio, window.studioEarly);
window.studioPlayer = player;
state.marks.player_ms = performance.now(); // WebGL started, the mannequin's shaders compiled
const strip = new Strip({
  sections: $("sections"), slots: $("slots"), beats: $("beats"), playhead: $("playhead"),
  onSlot: (i) => selectSlot(i, true), onSeek: (t) => seek(t),
});
const clock = $("clock");
let seeking = false;
player.onFrame = (audioS, animS) => {
  const frame = Math.round(animS * player.fps);
  clock.dataset.audioS = audioS.toFixed(4);
  clock.dataset.animS = animS.toFixed(4);
  clock.dataset.frame = String(frame);
  const hips = player.hipsWorld(); // the drawn pose's hips (m), for the tests to compare
  if (hips) clock.dataset.hipsM = hips.map((v) => v.toFixed(4)).join(",");
  clock.textContent = `audio ${audioS.toFixed(3)} s · dance ${animS.toFixed(3)} s (frame ${frame})`;
  if (!player.phraseClock) {
    strip.update(audioS);
    if (!seeking && state.song) $("seek").value = String(audioS);
  }
};

function seek(timeS) {
  if (!state.song) return;
  audio.currentTime = Math.max(0, Math.min(timeS, audio.duration || state.song.duration_s));
}

function togglePlay() {
  if (player.phraseClock) backToDance();
  if (audio.paused) audio.play().catch((e) => say(`audio: ${e.message}`));
  else audio.pause();
}
audio.addEventListener("play", () => { $("play").innerHTML = "&#10073;&#10073;"; $("play").ariaLabel = "pause"; });
audio.addEventListener("pause", () => { $("play").innerHTML = "&#9654;"; $("play").ariaLabel = "play"; });
$("play").addEventListener("click", togglePlay);
$("seek").addEventListener("input", () => { seeking = true; seek(Number($("seek").value)); });
$("seek").addEventListener("change", () => { seeking = false; });
$("speed").addEventListener("change", () => { audio.playbackRate = Number($("speed").value); });

/** Load the audio (bytes from the service or a dropped file) and wait until it can play. */
async function loadAudio(blob) {
  const started = performance.now();
  if (audio.src) URL.revokeObjectURL(audio.src);
  const ready = new Promise((resolve, reject) => {
    audio.addEventListener("canplaythrough", resolve, { once: true });
    audio.addEventListener("error", () => reject(new Error("the browser cannot play this audio")), { once: true });
  });
  audio.src = URL.createObjectURL(blob);
  audio.load();
  await ready;
  state.audio_ms = performance.now() - started;
}

/** Show `timeline`: render its dance (the service re-renders only what an edit changed), or
 * show the given `glb` (ArrayBuffer promise) of it; `measure`: ask for its figures now (the
 * opening dance asks once the page is ready, so the service's work does not slow the load). */
async function showTimeline(timeline, key, glb = null, measure = true) {
  state.timeline = timeline;
  state.key = key;
  const started = performance.now();
  const bytes = await (glb || call("POST", "/v1/render.glb", { timeline }, "buffer"));
  if (state.marks) state.marks.glb_bytes_ms = state.marks.glb_bytes_ms || performance.now();
  await player.load(bytes, { fps: timeline.fps });
  state.glb_ms = performance.now() - started;
  const a = state.analysis;
  strip.show(timeline, state.song.duration_s, a && a.sections, a && a.beat_times_s, a && a.downbeat_times_s);
  $("undo").disabled = !state.undo.length;
  $("redo").disabled = !state.redo.length;
  if (measure) evaluate(timeline);
  if (strip.selected >= 0) listAlternatives(strip.selected);
}

function figures(element, rows) {
  element.replaceChildren(...rows.flatMap(([name, value, id]) => {
    const dt = document.createElement("dt");
    dt.textContent = name;
    const dd = document.createElement("dd");
    dd.textContent = value;
    if (id) dd.id = id;
    return [dt, dd];
  }));
}

function showAnalysis() {
  const a = state.analysis, song = state.timeline.song;
  const meter = a ? a.meter : song.meter;
  const meterConfidence = a && a.meter_scores[String(meter)] !== undefined
    ? (a.meter_scores[String(meter)] / Object.values(a.meter_scores).reduce((x, y) => x + y, 0)).toFixed(2)
    : "-";
  figures($("analysis"), [
    ["tempo", `${(a ? a.tempo_bpm : song.tempo_bpm).toFixed(1)} BPM`, "fig-tempo"],
    ["meter", `${meter}/4 (share ${meterConfidence})`, "fig-meter"],
    ["pulse clarity", a ? a.pulse_clarity.toFixed(2) : "- (dropped song)", "fig-confidence"],
    ["style, seed", `${state.timeline.style}, ${state.timeline.seed}`],
    ["slots", String(state.timeline.slots.length)],
  ]);
}

async function evaluate(timeline) {
  figures($("evaluation"), [["evaluation", "measuring..."]]);
  const found = await work("evaluating", () => call("POST", "/v1/studio/evaluate", { timeline }));
  if (!found || timeline !== state.timeline) return;
  state.evaluation = found;
  figures($("evaluation"), [
    ["BAS", `${found.beat_align_score.toFixed(3)} (control ${found.beat_align_score_control.toFixed(3)})`, "fig-bas"],
    ["worst join", `${found.worst_join_ratio.toFixed(2)} of the phrases' peak at ${found.worst_join_s.toFixed(1)} s`, "fig-join"],
    ["foot skating", `${found.foot_skating_cm_s.toFixed(2)} cm/s`, "fig-skating"],
    ["beats from", found.beats],
  ]);
}

/** How often the model's first choice is the curators' (GET /v1/edits/agreement, issue 18's
 * "edits become the expert labels"), when this service has that endpoint (its schema says). */
async function showAgreement() {
  const schema = await call("GET", "/openapi.json").catch(() => null);
  if (!schema || !schema.paths["/v1/edits/agreement"]) return; // the labelled place stays
  const found = await work("reading the curators' agreement", () => call("GET", "/v1/edits/agreement"));
  if (!found) return;
  const share = (x) => (x === null || x === undefined ? "- (no bundle)" : `${(100 * x).toFixed(1)} %`);
  state.agreement = found;
  const panel = $("agreement");
  panel.classList.remove("placeholder");
  figures(panel, [
    ["edits recorded", `${found.edits} (${found.scored} scored)`],
    ["model = curator", share(found.top1), "fig-agreement"],
    ["model alone", share(found.model_top1)],
  ]);
}

// -- editor -----------------------------------------------------------------------------------

async function selectSlot(index, seekThere) {
  if (!state.timeline) return;
  const count = state.timeline.slots.length;
  index = Math.max(0, Math.min(count - 1, index));
  strip.select(index);
  if (seekThere) seek(state.timeline.slots[index].start_s + 1e-3);
  await listAlternatives(index);
}

async function listAlternatives(index) {
  const timeline = state.timeline;
  const slot = timeline.slots[index];
  $("slot-title").textContent = `Slot ${index}: ${timeline.slots[index].phrase_id} `
    + `(${slot.section_label}, ${slot.start_s.toFixed(2)}-${slot.end_s.toFixed(2)} s)`;
  const found = await work("listing alternatives", () =>
    call("POST", "/v1/alternatives", { timeline, slot: index, top_k: 10 }));
  if (!found || timeline !== state.timeline || strip.selected !== index) return;
  state.alternatives = found;
  $("alternatives").replaceChildren(...found.alternatives.map((row) => {
    const li = document.createElement("li");
    li.dataset.phrase = row.phrase_id;
    if (row.current) li.classList.add("current");
    const name = document.createElement("span");
    name.textContent = row.phrase_id;
    const button = document.createElement("button");
    button.textContent = row.current ? "current" : "Replace";
    button.disabled = row.current;
    button.className = "replace";
    button.addEventListener("click", () => replace(index, row.phrase_id));
    const score = document.createElement("span");
    score.className = "score";
    score.textContent = `score ${row.score.toFixed(4)} · emission ${row.emission.toFixed(3)} · `
      + `in ${row.prior_in.toFixed(3)} · out ${row.prior_out.toFixed(3)}`;
    const preview = document.createElement("div");
    preview.className = "preview";
    preview.setAttribute("aria-hidden", "true");
    li.append(name, button, score, preview);
    call("GET", `/v1/library/preview.svg?id=${encodeURIComponent(row.phrase_id)}`, undefined, "text")
      .then((svg) => { preview.innerHTML = svg; }).catch(() => {});
    return li;
  }));
}

async function replace(index, phraseId) {
  const before = state.timeline;
  const edited = await work(`replacing slot ${index}`, () =>
    call("POST", "/v1/replace", { timeline: before, slot: index, phrase_id: phraseId }));
  if (!edited) return;
  state.undo.push(before);
  state.redo = [];
  await work("rendering", () => showTimeline(edited.timeline, edited.key));
  showAgreement(); // the replace was recorded as an edit where the service records them
}

async function undoRedo(from, to) {
  if (!from.length) return;
  to.push(state.timeline);
  await work("rendering", () => showTimeline(from.pop(), null));
}
$("undo").addEventListener("click", () => undoRedo(state.undo, state.redo));
$("redo").addEventListener("click", () => undoRedo(state.redo, state.undo));

$("save").addEventListener("click", async () => {
  const saved = await work("saving", () => call("POST", "/v1/studio/save", { timeline: state.timeline }));
  if (saved) { state.saved = saved; say(`saved ${Object.values(saved.outputs).join(", ")}`); }
});

$("rechoreograph").addEventListener("click", async () => {
  const style = $("style").value || null;
  const seed = Number($("seed").value) || 0;
  const made = await work("choreographing", () => call("POST", "/v1/studio/choreograph", { style, seed }));
  if (!made) return;
  state.undo.push(state.timeline);
  state.redo = [];
  await work("rendering", () => showTimeline(made.timeline, made.key));
  showAnalysis();
});

// A dropped audio file is choreographed by the service's upload path and played from memory.
window.addEventListener("dragover", (e) => { e.preventDefault(); $("drop-hint").hidden = false; });
window.addEventListener("dragleave", () => { $("drop-hint").hidden = true; });
window.addEventListener("drop", async (e) => {
  e.preventDefault();
  $("drop-hint").hidden = true;
  const file = e.dataTransfer.files[0];
  if (file) await openDropped(file);
});

async function openDropped(file) {
  const style = $("style").value;
  const query = `name=${encodeURIComponent(file.name)}&seed=${Number($("seed").value) || 0}`
    + (style ? `&style=${encodeURIComponent(style)}` : "");
  const made = await work(`choreographing ${file.name}`, () => call("POST", `/v1/choreograph?${query}`, file));
  if (!made) return;
  audio.pause();
  state.song = { name: file.name, duration_s: made.timeline.song.duration_s };
  state.analysis = null;
  state.undo = [];
  state.redo = [];
  $("song-name").textContent = file.name;
  $("seek").max = String(state.song.duration_s);
  await loadAudio(file);
  await work("rendering", () => showTimeline(made.timeline, made.key));
  showAnalysis();
}
window.studio.openDropped = openDropped;

// -- your own character ----------------------------------------------------------------------

/** Show a glTF character (ArrayBuffer) dancing: its bones matched by the service (`mapping`:
 * given by `mdtool studio --character`, else asked for). */
async function showCharacter(bytes, name, mapping = null) {
  mapping = mapping || await work(`matching the bones of ${name}`, () =>
    call("POST", "/v1/studio/character", new Blob([bytes], { type: "model/gltf-binary" })));
  if (!mapping) return;
  const count = await work(`loading ${name}`, () => player.setCharacter(bytes, mapping));
  if (!count) return;
  state.character = { name, bones: count, convention: mapping.convention };
  $("mannequin").disabled = false;
  say(`${name}: ${count} bones follow the dance (${mapping.convention} names)`);
}
window.studio.showCharacter = showCharacter;
$("character-file").addEventListener("change", async (e) => {
  const file = e.target.files[0];
  if (file) await showCharacter(await file.arrayBuffer(), file.name);
});
$("mannequin").addEventListener("click", () => {
  player.clearCharacter();
  state.character = null;
  $("mannequin").disabled = true;
});

// -- library browser --------------------------------------------------------------------------

async function listLibrary() {
  const form = new FormData($("filters"));
  const query = new URLSearchParams([...form.entries()].filter(([, v]) => v !== ""));
  const found = await work("reading the library", () => call("GET", `/v1/library/list?${query}`));
  if (!found) return;
  state.library = found.phrases;
  $("library-count").textContent = `${found.phrases.length} phrases`;
  $("phrases").tBodies[0].replaceChildren(...found.phrases.map((p) => {
    const tr = document.createElement("tr");
    tr.dataset.phrase = p.id;
    for (const value of [p.id, p.style, p.energy.toFixed(2), p.tempo_bpm.toFixed(0), p.status, p.tags.join(", ")]) {
      const td = document.createElement("td");
      td.textContent = value;
      tr.append(td);
    }
    tr.addEventListener("click", () => showPhrase(p));
    return tr;
  }));
}
$("filters").addEventListener("submit", (e) => { e.preventDefault(); listLibrary(); });

async function showPhrase(p) {
  state.selectedPhrase = p.id;
  for (const tr of $("phrases").tBodies[0].rows) tr.classList.toggle("selected", tr.dataset.phrase === p.id);
  const detail = $("phrase-detail");
  detail.replaceChildren();
  const title = document.createElement("h2");
  title.textContent = `${p.id}: ${p.name} (${p.counts} counts, ${p.duration_s.toFixed(1)} s, ${p.status})`;
  const tools = document.createElement("div");
  tools.className = "tools";
  const button = (text, id, action) => {
    const b = document.createElement("button");
    b.textContent = text;
    b.id = id;
    b.addEventListener("click", action);
    tools.append(b);
  };
  button("Play", "phrase-play", () => playPhrase(p.id));
  button("Approve", "phrase-approve", () => setStatus(p.id, "approved"));
  button("Reject", "phrase-reject", () => setStatus(p.id, "rejected"));
  const tag = document.createElement("input");
  tag.id = "phrase-tag";
  tag.placeholder = "tag";
  tag.size = 8;
  tools.append(tag);
  button("Tag", "phrase-tag-add", () => tag.value && setTags(p.id, [tag.value], []));
  const findings = document.createElement("ul");
  findings.id = "findings";
  detail.append(title, tools, findings);
  const found = await work("validating", () => call("GET", `/v1/library/findings?id=${encodeURIComponent(p.id)}`));
  if (!found || state.selectedPhrase !== p.id) return;
  findings.replaceChildren(...(found.findings.length ? found.findings : [{ level: "ok", check: "validation", message: "no findings" }])
    .map((f) => {
      const li = document.createElement("li");
      li.className = `finding-${f.level}`;
      li.textContent = `${f.level} ${f.check}: ${f.message}`;
      return li;
    }));
}

async function setStatus(id, status) {
  const done = await work(`${status} ${id}`, () => call("POST", "/v1/library/status", { ids: [id], status }));
  if (done) { await listLibrary(); const p = state.library.find((x) => x.id === id); if (p) showPhrase(p); }
}

async function setTags(id, add, remove) {
  const done = await work(`tagging ${id}`, () => call("POST", "/v1/library/tags", { ids: [id], add, remove }));
  if (done) await listLibrary();
}

async function playPhrase(id) {
  audio.pause();
  const glb = await work(`loading ${id}`, () => call("GET", `/v1/library/phrase.glb?id=${encodeURIComponent(id)}`, undefined, "buffer"));
  if (glb) await player.load(glb, { phrase: true });
}

async function backToDance() {
  if (state.timeline) await work("rendering", () => showTimeline(state.timeline, state.key));
}

function showTab(name) {
  $("tab-dance").ariaSelected = String(name === "dance");
  $("tab-library").ariaSelected = String(name === "library");
  $("side-dance").hidden = name !== "dance";
  $("side-library").hidden = name !== "library";
  if (name === "library" && !state.library.length) listLibrary();
  if (name === "dance" && player.phraseClock) backToDance();
}
$("tab-dance").addEventListener("click", () => showTab("dance"));
$("tab-library").addEventListener("click", () => showTab("library"));

// -- keyboard ---------------------------------------------------------------------------------

window.addEventListener("keydown", (e) => {
  if (e.target.closest("input, select, textarea")) return;
  const beat = state.timeline ? 60 / state.timeline.song.tempo_bpm : 0.5;
  if (e.key === " ") togglePlay();
  else if (e.key === "ArrowLeft") seek(audio.currentTime - (e.shiftKey ? 4 * beat : beat));
  else if (e.key === "ArrowRight") seek(audio.currentTime + (e.shiftKey ? 4 * beat : beat));
  else if (e.key === "ArrowUp" || e.key === "ArrowDown") {
    const speed = $("speed");
    speed.selectedIndex = Math.max(0, Math.min(speed.options.length - 1, speed.selectedIndex + (e.key === "ArrowUp" ? 1 : -1)));
    speed.dispatchEvent(new Event("change"));
  } else if (e.key === "j" || e.key === "k") {
    const from = strip.selected >= 0 ? strip.selected : Math.max(strip.current, 0);
    selectSlot(from + (e.key === "k" ? 1 : -1), true);
  } else if ((e.ctrlKey || e.metaKey) && e.key === "z") undoRedo(state.undo, state.redo);
  else if ((e.ctrlKey || e.metaKey) && e.key === "y") undoRedo(state.redo, state.undo);
  else return;
  e.preventDefault();
});

// -- start ------------------------------------------------------------------------------------

async function start() {
  state.marks.modules_ms = performance.now();
  player.run();
  const early = window.studioEarly;
  const session = await answer(await early.session, "GET /v1/studio/session");
  state.marks.session_ms = performance.now();
  for (const select of [$("style"), $("filters").elements.style]) {
    for (const style of session.styles) select.add(new Option(style, style));
  }
  $("style").add(new Option("best fit", ""), 0);
  $("style").value = "";
  if (!session.song) {
    $("drop-hint").hidden = false;
    state.ready = true;
    state.ready_ms = performance.now();
    document.body.dataset.ready = "1";
    return;
  }
  state.song = session.song;
  state.analysis = session.analysis;
  $("song-name").textContent = `${session.song.name} (${session.song.duration_s.toFixed(1)} s)`;
  $("seek").max = String(session.song.duration_s);
  $("seed").value = String(session.timeline.seed);
  const data = await early.data;
  await Promise.all([
    data.audio.then((r) => { if (!r.ok) return answer(r, "GET /v1/studio/audio"); })
      .then(() => { state.marks.audio_ms = performance.now(); }),
    showTimeline(session.timeline, session.key,
      data.glb.then((r) => answer(r, "GET /v1/studio/dance.glb", "buffer")), false)
      .then(() => { state.marks.dance_ms = performance.now(); }),
  ]);
  showAnalysis();
  player.step(); // the character is drawn
  state.ready = true;
  state.ready_ms = performance.now(); // since navigation started
  document.body.dataset.ready = "1";
  evaluate(state.timeline); // what the page needs after it is ready
  showAgreement();
  if (session.character) { // mdtool studio --character: after the page is ready
    const bytes = await call("GET", session.character.url, undefined, "buffer");
    await showCharacter(bytes, session.character.name, session.character);
  }
}

start().catch((error) => { say(String(error.message || error)); console.error(error); });
