// Editing a timeline in the engine: the ranked alternatives for a slot and replacing a slot's
// phrase, the ports of musicdance.choreo.choreographer.alternatives and replace_phrase (the
// service's /v1/alternatives and /v1/replace), so DanceEditor works without the service.
using System;
using System.Collections.Generic;

namespace MdTool.Dance.Choreography
{
    /// <summary>One ranked phrase for a slot: score = emission x prior in x prior out.</summary>
    public sealed class SlotAlternative
    {
        public string PhraseId;
        public double Score, Emission, PriorIn, PriorOut;
        public bool Current;
    }

    public static class TimelineEditing
    {
        /// <summary>Phrases of the timeline's style for <paramref name="slot"/>, best first, ranked by
        /// F(slot) M(previous -> phrase) M(phrase -> next) with the library's transition prior
        /// (scorer null: the feature scorer on this slot alone, as the SDK does).</summary>
        public static List<SlotAlternative> Alternatives(DanceTimeline timeline, LibraryAsset library, int slot, int topK = 10,
                                                         IPhraseScorer scorer = null)
        {
            CheckSlot(timeline, slot);
            var rowList = new List<int>();
            for (int i = 0; i < library.NumPhrases; i++) if (library.StyleNames[library.StyleCode[i]] == timeline.Style) rowList.Add(i);
            if (rowList.Count == 0) throw new DanceFormatException("the library has no phrases of style '" + timeline.Style + "'");
            var rows = rowList.ToArray();
            int k = rows.Length;
            var emission = (scorer ?? new FeatureScorer(library)).Score(new List<TimelineSlot> { timeline.Slots[slot] }, rows);
            int[] indptr, targets;
            double[] listed, floor;
            new Choreographer(library).Prior(rows, out indptr, out targets, out listed, out floor);
            var index = new Dictionary<string, int>();
            for (int c = 0; c < k; c++) index[library.Ids[rows[c]]] = c;
            var priorIn = Filled(k, 1.0);
            var priorOut = Filled(k, 1.0);
            int before;
            if (slot > 0 && index.TryGetValue(timeline.Slots[slot - 1].PhraseId, out before))
            {
                priorIn = Filled(k, floor[before]);
                for (int e = indptr[before]; e < indptr[before + 1]; e++) priorIn[targets[e]] = listed[e];
            }
            int after;
            if (slot + 1 < timeline.Slots.Count && index.TryGetValue(timeline.Slots[slot + 1].PhraseId, out after))
            {
                priorOut = (double[])floor.Clone();
                for (int source = 0; source < k; source++)
                    for (int e = indptr[source]; e < indptr[source + 1]; e++)
                        if (targets[e] == after) priorOut[source] = listed[e];
            }
            var total = new double[k];
            var order = new int[k];
            for (int c = 0; c < k; c++) { total[c] = emission[0, c] * priorIn[c] * priorOut[c]; order[c] = c; }
            Array.Sort(order, (a, b) => { int r = total[b].CompareTo(total[a]); return r != 0 ? r : a.CompareTo(b); });
            var result = new List<SlotAlternative>();
            for (int r = 0; r < Math.Min(topK, k); r++)
            {
                int c = order[r];
                result.Add(new SlotAlternative
                {
                    PhraseId = library.Ids[rows[c]], Score = total[c], Emission = emission[0, c], PriorIn = priorIn[c],
                    PriorOut = priorOut[c], Current = library.Ids[rows[c]] == timeline.Slots[slot].PhraseId,
                });
            }
            return result;
        }

        /// <summary>A copy of the timeline with <paramref name="phraseId"/> in <paramref name="slot"/>
        /// (any phrase of the library in the slot's meter); its transition prior is unknown (null).</summary>
        public static DanceTimeline Replace(DanceTimeline timeline, LibraryAsset library, int slot, string phraseId)
        {
            CheckSlot(timeline, slot);
            int k = library.IndexOf(phraseId);
            if (k < 0) throw new DanceFormatException("no phrase with id '" + phraseId + "' in the library");
            if ((library.Meter[k] == 3) != (timeline.Slots[slot].Meter == 3))
                throw new DanceFormatException("phrase " + phraseId + " is in " + library.Meter[k] + "/4 but the music is in "
                                               + timeline.Slots[slot].Meter + "/4");
            var copy = DanceTimeline.Parse(timeline.ToJson());
            var edited = copy.Slots[slot];
            edited.PhraseId = phraseId;
            edited.Score = new FeatureScorer(library).Score(new List<TimelineSlot> { edited }, new[] { k })[0, 0];
            edited.TransitionPrior = null;
            var raw = (Dictionary<string, object>)((List<object>)copy.Raw["slots"])[slot];
            raw["phrase_id"] = phraseId;
            raw["score"] = Math.Round(edited.Score, 6);
            raw["transition_prior"] = null;
            return copy;
        }

        static void CheckSlot(DanceTimeline timeline, int slot)
        {
            if (slot < 0 || slot >= timeline.Slots.Count)
                throw new DanceFormatException("slot " + slot + " does not exist (the timeline has " + timeline.Slots.Count + ")");
        }

        static double[] Filled(int n, double value)
        {
            var a = new double[n];
            for (int i = 0; i < n; i++) a[i] = value;
            return a;
        }
    }
}
