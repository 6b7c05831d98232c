// The strip under the player: the song's sections, the timeline's slots (one phrase each) and
// its beats (downbeats taller), with the playhead; the slot under the playhead is highlighted.

export class Strip {
  constructor({ sections, slots, beats, playhead, onSlot, onSeek }) {
    Object.assign(this, { sections, slots, beats, playhead, onSlot, onSeek });
    this.duration = 1;
    this.timeline = null;
    this.current = -1;
    this.selected = -1;
    for (const row of [sections, beats]) {
      row.addEventListener("click", (e) => this.onSeek(this.timeAt(e)));
    }
    window.addEventListener("resize", () => this.drawBeats());
  }

  timeAt(event) {
    const box = this.slots.getBoundingClientRect();
    return ((event.clientX - box.left) / box.width) * this.duration;
  }

  /** Lay out `timeline` over `durationS`; `sections` [{label, start_s, end_s}] and beat times
   * come from the song's analysis, or from the slots when there is none. */
  show(timeline, durationS, sections, beatsS, downbeatsS) {
    this.timeline = timeline;
    this.duration = durationS;
    this.sectionList = sections || sectionsOf(timeline);
    this.beatList = beatsS || timeline.slots.flatMap((s) => s.beat_times_s);
    this.downbeats = new Set((downbeatsS || timeline.slots.map((s) => s.start_s)).map((t) => t.toFixed(3)));
    this.sections.replaceChildren(...this.sectionList.map((s) => this.block(s.start_s, s.end_s, s.label)));
    this.slots.replaceChildren(...timeline.slots.map((slot, i) => {
      const phrase = timeline.slots[i].phrase_id;
      const div = this.block(slot.start_s, slot.end_s, `${i} ${phrase.replace(`${timeline.style}-`, "")}`);
      div.dataset.slot = String(i);
      div.title = `slot ${i}: ${phrase} (${slot.section_label}, ${slot.start_s.toFixed(2)}-${slot.end_s.toFixed(2)} s)`;
      div.addEventListener("click", () => this.onSlot(i));
      return div;
    }));
    this.current = -1;
    this.select(this.selected < timeline.slots.length ? this.selected : -1);
    this.drawBeats();
  }

  block(startS, endS, text) {
    const div = document.createElement("div");
    div.style.left = `${(100 * startS) / this.duration}%`;
    div.style.width = `${(100 * (endS - startS)) / this.duration}%`;
    div.textContent = text;
    return div;
  }

  drawBeats() {
    if (!this.beatList) return;
    const canvas = this.beats;
    canvas.width = canvas.clientWidth || 800;
    const g = canvas.getContext("2d");
    g.clearRect(0, 0, canvas.width, canvas.height);
    g.fillStyle = "#30343f";
    for (const t of this.beatList) {
      const x = Math.round((t / this.duration) * canvas.width);
      const tall = this.downbeats.has(t.toFixed(3));
      g.fillRect(x, tall ? 0 : 6, 1, canvas.height);
    }
  }

  /** The slot index at `timeS` (-1 outside every slot). */
  slotAt(timeS) {
    const slots = this.timeline ? this.timeline.slots : [];
    let lo = 0, hi = slots.length - 1;
    while (lo <= hi) {
      const mid = (lo + hi) >> 1;
      if (timeS < slots[mid].start_s) hi = mid - 1;
      else if (timeS >= slots[mid].end_s) lo = mid + 1;
      else return mid;
    }
    return -1;
  }

  update(timeS) {
    this.playhead.style.left = `${(100 * timeS) / this.duration}%`;
    const index = this.slotAt(timeS);
    if (index === this.current) return;
    const rows = this.slots.children;
    if (this.current >= 0 && rows[this.current]) rows[this.current].classList.remove("current");
    if (index >= 0 && rows[index]) rows[index].classList.add("current");
    this.current = index;
  }

  select(index) {
    const rows = this.slots.children;
    if (this.selected >= 0 && rows[this.selected]) rows[this.selected].classList.remove("selected");
    if (index >= 0 && rows[index]) rows[index].classList.add("selected");
    this.selected = index;
  }
}

/** Sections from the slots' labels (runs of the same label), for a song without analysis. */
function sectionsOf(timeline) {
  const out = [];
  for (const slot of timeline.slots) {
    const last = out[out.length - 1];
    if (last && last.label === slot.section_label && slot.position_in_section !== 0) last.end_s = slot.end_s;
    else out.push({ label: slot.section_label, start_s: slot.start_s, end_s: slot.end_s });
  }
  return out;
}
