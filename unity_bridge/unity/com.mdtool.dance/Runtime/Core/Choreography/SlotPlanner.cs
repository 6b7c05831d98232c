// The music cut into slots of one eight (six counts in 3/4), each filled by one phrase: the
// port of musicdance.choreo.slots (plan_slots, repeats_of). Slots are TimelineSlots, the same
// objects the timeline, the player and the editor use.
using System;
using System.Collections.Generic;
using MdTool.Dance.Analysis;

namespace MdTool.Dance.Choreography
{
    public static class SlotPlanner
    {
        /// <summary>Shortest slot worth a phrase; shorter remainders join the previous slot.</summary>
        public const int MinSlotCounts = 4;

        /// <summary>Every music phrase cut into eights; halfTime: counts on every other beat
        /// (even meters only), tempo halved.</summary>
        public static List<TimelineSlot> Plan(MusicAnalysis analysis, bool halfTime = false)
        {
            int cycle = analysis.Meter == 3 ? 6 : 8;
            var slots = new List<TimelineSlot>();
            var sectionPositions = new Dictionary<int, int>();
            var phrases = analysis.Phrases ?? new MusicPhrase[0];
            for (int p = 0; p < phrases.Length; p++)
            {
                var phrase = phrases[p];
                var beats = new List<double>();
                foreach (double t in phrase.BeatTimesS ?? new double[0])
                    if (phrase.StartS - 1e-6 <= t && t < phrase.EndS) beats.Add(t);
                double tempo = phrase.TempoBpm != 0 ? phrase.TempoBpm : analysis.TempoBpm;
                if (halfTime && analysis.Meter != 3)
                {
                    var every = new List<double>();
                    for (int i = 0; i < beats.Count; i += 2) every.Add(beats[i]);
                    beats = every;
                    tempo /= 2.0;
                }
                var groups = new List<List<double>>();
                for (int i = 0; i < beats.Count; i += cycle) groups.Add(beats.GetRange(i, Math.Min(cycle, beats.Count - i)));
                if (groups.Count > 1 && groups[groups.Count - 1].Count < MinSlotCounts)
                {
                    var tail = groups[groups.Count - 1];
                    groups.RemoveAt(groups.Count - 1);
                    groups[groups.Count - 1].AddRange(tail);
                }
                for (int q = 0; q < groups.Count; q++)
                {
                    var group = groups[q];
                    if (group.Count < 2) continue;
                    double following = q + 1 < groups.Count ? groups[q + 1][0] : phrase.EndS;
                    int position;
                    sectionPositions.TryGetValue(phrase.Section, out position);
                    sectionPositions[phrase.Section] = position + 1;
                    slots.Add(new TimelineSlot
                    {
                        Index = slots.Count, StartS = group[0], EndS = following, BeatTimesS = group.ToArray(),
                        Meter = analysis.Meter, MusicPhrase = p, SectionLabel = phrase.SectionLabel,
                        PositionInSection = position, PositionInPhrase = q, TempoBpm = tempo, Energy = phrase.Energy,
                        OnsetDensityPerS = phrase.OnsetDensityPerS,
                    });
                }
            }
            return slots;
        }

        /// <summary>For each slot, the first earlier slot with the same section label and
        /// position (chorus 2 repeats chorus 1 slot by slot), or -1.</summary>
        public static int[] RepeatsOf(IList<TimelineSlot> slots)
        {
            var first = new Dictionary<string, int>();
            var result = new int[slots.Count];
            for (int i = 0; i < slots.Count; i++)
            {
                string key = slots[i].SectionLabel + "\u0000" + slots[i].PositionInSection;
                int found;
                if (first.TryGetValue(key, out found)) result[i] = found;
                else { first[key] = i; result[i] = -1; }
            }
            return result;
        }
    }
}
