// Choosing one phrase per slot in the engine: the port of musicdance.choreo.choreographer's
// default path (decoder "viterbi", sparse transitions, section reuse, the variety pass). Given
// the same analysis, library and seed it picks the same phrase ids as `mdtool choreograph`:
// the jitter is numpy's default_rng(seed).standard_normal (SeededNormal), the transition prior
// is the library graph's (TransitionGraph.prior), the constraint factors and the variety rules
// are the Python ones with the same constants.
using System;
using System.Collections.Generic;
using System.Diagnostics;
using MdTool.Dance.Analysis;

namespace MdTool.Dance.Choreography
{
    /// <summary>Seconds spent per stage of one choreography.</summary>
    public sealed class ChoreographyTimings
    {
        public double ScoringS, ModelS, TransitionsS, DecodingS, RenderS;
    }

    public sealed class Choreographer
    {
        public const double RepeatPenalty = 0.05, SameMovePenalty = 0.3, MirrorBonus = 4.0, Jitter = 0.15;
        public const double ReusePenalty = 0.6, HalfTimeRatio = 1.45, PriorFloor = 0.01;
        public const int MoveWindow = 3, DefaultBeam = 512, TopK = 5;

        public readonly LibraryAsset Library;
        public string Style;            // null: the style that suits the music best
        public long Seed;
        public double Fps = 30.0;
        public bool ReuseSections = true;
        public int Beam = DefaultBeam;
        public ChoreographyTimings Timings = new ChoreographyTimings();

        public Choreographer(LibraryAsset library) { Library = library; }

        /// <summary>The timeline for an analysed song; scorer null: the feature scorer.
        /// progress receives 0..1.</summary>
        public DanceTimeline Choreograph(MusicAnalysis analysis, IPhraseScorer scorer = null, string songPath = null,
                                         Action<float> progress = null)
        {
            Check(analysis);
            var clock = Stopwatch.StartNew();
            scorer = scorer ?? new FeatureScorer(Library);
            var slots = SlotPlanner.Plan(analysis);
            if (slots.Count == 0)
                throw new DanceFormatException("no phrases to dance to: the analysis found no beats or phrases (silence, or no detectable pulse)");
            var rows = CandidateRows(Style);
            var emission = scorer.Score(slots, rows);
            Report(progress, 0.4f);
            string style = Style;
            if (style == null)
            {
                style = BestStyle(emission, rows);
                var keep = new List<int>();
                for (int c = 0; c < rows.Length; c++) if (Library.StyleNames[Library.StyleCode[rows[c]]] == style) keep.Add(c);
                var kept = new int[keep.Count];
                var narrowed = new double[slots.Count, keep.Count];
                for (int c = 0; c < keep.Count; c++)
                {
                    kept[c] = rows[keep[c]];
                    for (int t = 0; t < slots.Count; t++) narrowed[t, c] = emission[t, keep[c]];
                }
                rows = kept;
                emission = narrowed;
            }
            if (DancesHalfTime(analysis, rows))
            {
                var halved = SlotPlanner.Plan(analysis, true);
                if (halved.Count > 0) { slots = halved; emission = scorer.Score(slots, rows); }
            }
            int n = slots.Count, k = rows.Length;
            var normal = new SeededNormal(Seed);
            var jittered = new double[n, k];
            for (int t = 0; t < n; t++)
                for (int c = 0; c < k; c++) jittered[t, c] = emission[t, c] * Math.Exp(Jitter * normal.Next());
            Timings.ScoringS += clock.Elapsed.TotalSeconds;
            var learned = scorer as BundleScorer;
            if (learned != null) Timings.ModelS = learned.ModelSeconds;
            clock.Restart();
            Report(progress, 0.6f);
            var ids = new string[k];
            for (int c = 0; c < k; c++) ids[c] = Library.Ids[rows[c]];
            var steps = Steps(slots, rows);
            Timings.TransitionsS += clock.Elapsed.TotalSeconds;
            clock.Restart();
            var path = SparseDecoder.Viterbi(jittered, steps, null, Beam);
            var first = ReuseSections ? SlotPlanner.RepeatsOf(slots) : Filled(n, -1);
            if (ReuseSections)
            {
                var tied = new List<int>();
                for (int t = 0; t < n; t++) if (first[t] >= 0) tied.Add(t);
                if (tied.Count > 0)
                {
                    var allowed = new bool[n, k];
                    for (int t = 0; t < n; t++) for (int c = 0; c < k; c++) allowed[t, c] = true;
                    Tie(allowed, tied, first, path, k);
                    for (int round = 0; round < 4; round++)
                    {
                        path = SparseDecoder.Viterbi(jittered, steps, allowed, Beam);
                        bool same = true;
                        foreach (int t in tied) same &= path[t] == path[first[t]];
                        if (same) break;
                        Tie(allowed, tied, first, path, k);
                    }
                    foreach (int t in tied) path[t] = path[first[t]];
                }
            }
            path = VaryMoves(path, jittered, steps, ids, slots, first);
            Timings.DecodingS += clock.Elapsed.TotalSeconds;
            Report(progress, 0.8f);
            return Build(analysis, slots, path, emission, steps, ids, style, songPath);
        }

        static void Report(Action<float> progress, float value) { if (progress != null) progress(value); }

        static int[] Filled(int n, int value)
        {
            var a = new int[n];
            for (int i = 0; i < n; i++) a[i] = value;
            return a;
        }

        static void Tie(bool[,] allowed, List<int> tied, int[] first, int[] path, int k)
        {
            foreach (int t in tied)
                for (int c = 0; c < k; c++) allowed[t, c] = c == path[first[t]];
        }

        /// <summary>Clear errors for analyses nobody can dance to (NaN, no beats, no duration).</summary>
        public static void Check(MusicAnalysis analysis)
        {
            if (analysis == null) throw new DanceFormatException("no analysis");
            if (!(analysis.DurationS > 0) || double.IsInfinity(analysis.DurationS))
                throw new DanceFormatException("the analysis has no duration (empty song)");
            if (!(analysis.TempoBpm >= 0) || double.IsInfinity(analysis.TempoBpm))
                throw new DanceFormatException("the analysis tempo is not a number");
            foreach (var p in analysis.Phrases ?? new MusicPhrase[0])
            {
                if (double.IsNaN(p.StartS) || double.IsNaN(p.EndS) || double.IsNaN(p.Energy) || double.IsNaN(p.TempoBpm)
                    || double.IsNaN(p.OnsetDensityPerS))
                    throw new DanceFormatException("music phrase " + p.Index + " has NaN features");
                foreach (double b in p.BeatTimesS ?? new double[0])
                    if (double.IsNaN(b) || double.IsInfinity(b)) throw new DanceFormatException("music phrase " + p.Index + " has NaN beat times");
            }
            if (analysis.LogMelDb != null)
                foreach (float v in analysis.LogMelDb)
                    if (float.IsNaN(v) || float.IsInfinity(v)) throw new DanceFormatException("the analysis log-mel has NaN or infinite values");
        }

        int[] CandidateRows(string style)
        {
            var rows = new List<int>();
            for (int i = 0; i < Library.NumPhrases; i++)
                if (style == null || Library.StyleNames[Library.StyleCode[i]] == style) rows.Add(i);
            if (rows.Count == 0)
                throw new DanceFormatException("no phrases of style '" + style + "' in the library (it has: " + string.Join(", ", Library.StyleNames) + ")");
            return rows.ToArray();
        }

        string BestStyle(double[,] emission, int[] rows)
        {
            string bestName = null;
            double bestTotal = double.NegativeInfinity;
            for (int code = 0; code < Library.StyleNames.Length; code++)
            {
                double total = 0;
                bool any = false;
                for (int t = 0; t < emission.GetLength(0); t++)
                {
                    double m = double.NegativeInfinity;
                    for (int c = 0; c < rows.Length; c++)
                        if (Library.StyleCode[rows[c]] == code) { m = Math.Max(m, emission[t, c]); any = true; }
                    total += Math.Log(m);
                }
                if (any && (bestName == null || total > bestTotal)) { bestName = Library.StyleNames[code]; bestTotal = total; }
            }
            return bestName;
        }

        bool DancesHalfTime(MusicAnalysis analysis, int[] rows)
        {
            if (analysis.Meter == 3 || rows.Length == 0) return false;
            var tempi = new double[rows.Length];
            for (int c = 0; c < rows.Length; c++) tempi[c] = Library.TempoBpm[rows[c]];
            Array.Sort(tempi);
            int m = tempi.Length / 2;
            double median = tempi.Length % 2 == 1 ? tempi[m] : (tempi[m - 1] + tempi[m]) / 2.0;
            return analysis.TempoBpm > HalfTimeRatio * median;
        }

        /// <summary>TransitionGraph.subgraph(rows).prior(): the graph over rows (whole style
        /// groups, renumbered) in CSR form with the prior of every listed edge and, per source,
        /// the value of every pair not listed (0 in complete rows).</summary>
        public void Prior(int[] rows, out int[] indptr, out int[] targets, out double[] listed, out double[] floor)
        {
            var lib = Library;
            var newIndex = new Dictionary<int, int>();
            for (int c = 0; c < rows.Length; c++) newIndex[rows[c]] = c;
            int k = rows.Length;
            indptr = new int[k + 1];
            for (int c = 0; c < k; c++) indptr[c + 1] = indptr[c] + lib.GraphIndptr[rows[c] + 1] - lib.GraphIndptr[rows[c]];
            int edges = indptr[k];
            targets = new int[edges];
            listed = new double[edges];
            floor = new double[k];
            bool complete = true;
            for (int c = 0; c < k; c++)
                complete &= lib.GraphIndptr[rows[c] + 1] - lib.GraphIndptr[rows[c]] == lib.GraphGroupSize[rows[c]];
            for (int c = 0; c < k; c++)
            {
                int a = lib.GraphIndptr[rows[c]], degree = lib.GraphIndptr[rows[c] + 1] - a;
                double sum = 0;
                for (int e = 0; e < degree; e++)
                {
                    int target;
                    if (!newIndex.TryGetValue(lib.GraphTargets[a + e], out target))
                        throw new DanceAssetException("transition graph: a style's phrases lead outside the style");
                    targets[indptr[c] + e] = target;
                    double v = Math.Min(Math.Max(Math.Exp(-lib.GraphCost[a + e]), PriorFloor), 1.0);
                    listed[indptr[c] + e] = v;
                    sum += v;
                }
                double rest = 0;
                if (!complete)
                {
                    int missing = lib.GraphGroupSize[rows[c]] - degree;
                    rest = missing > 0 ? Math.Max(lib.GraphRestMean[rows[c]], PriorFloor) : 0.0;
                    sum += missing * rest;
                }
                for (int e = 0; e < degree; e++) listed[indptr[c] + e] /= sum;
                floor[c] = rest / sum;
            }
        }

        /// <summary>The graph over rows (whole style groups) with the prior and the repeat,
        /// mirror and same-move factors per kind of step (choreographer.sparse_steps).</summary>
        public SparseSteps Steps(IList<TimelineSlot> slots, int[] rows)
        {
            var lib = Library;
            int k = rows.Length;
            int[] indptr, targets;
            double[] listed, floor;
            Prior(rows, out indptr, out targets, out listed, out floor);
            int edges = indptr[k];
            var sources = new int[edges];
            for (int c = 0; c < k; c++) for (int e = indptr[c]; e < indptr[c + 1]; e++) sources[e] = c;
            var newIndex = new Dictionary<int, int>();
            for (int c = 0; c < k; c++) newIndex[rows[c]] = c;
            var twin = new int[k];
            var move = new int[k];
            for (int c = 0; c < k; c++)
            {
                int t = lib.GraphTwin[rows[c]];
                int mapped;
                twin[c] = t >= 0 && newIndex.TryGetValue(t, out mapped) ? mapped : -1;
                move[c] = lib.GraphMove[rows[c]];
            }
            var steps = new SparseSteps { Indptr = indptr, Targets = targets, Sources = sources, Floor = floor, Kind = new int[Math.Max(slots.Count - 1, 0)] };
            var kinds = new Dictionary<int, int>();
            for (int t = 1; t < slots.Count; t++)
            {
                TimelineSlot before = slots[t - 1], now = slots[t];
                bool sameMusic = before.SectionLabel == now.SectionLabel && before.PositionInSection == now.PositionInSection;
                bool samePhrase = before.MusicPhrase == now.MusicPhrase;
                int key = (sameMusic ? 2 : 0) + (samePhrase ? 1 : 0);
                int kind;
                if (!kinds.TryGetValue(key, out kind))
                {
                    var w = (double[])listed.Clone();
                    for (int e = 0; e < edges; e++)
                    {
                        int i = sources[e], j = targets[e];
                        if (!sameMusic && i == j) w[e] *= RepeatPenalty;
                        if (samePhrase) { if (j == twin[i]) w[e] *= MirrorBonus; }
                        else if (!sameMusic && move[i] == move[j]) w[e] *= SameMovePenalty;
                    }
                    var logW = new double[edges];
                    for (int e = 0; e < edges; e++) logW[e] = SparseDecoder.Log(w[e]);
                    kind = steps.Weights.Count;
                    kinds[key] = kind;
                    steps.Weights.Add(w);
                    steps.LogWeights.Add(logW);
                }
                steps.Kind[t - 1] = kind;
            }
            return steps;
        }

        static double[] Row(SparseSteps steps, int t, int source, int k)
        {
            var row = new double[k];
            for (int j = 0; j < k; j++) row[j] = steps.Floor[source];
            var w = steps.Weights[steps.Kind[t - 1]];
            for (int e = steps.Indptr[source]; e < steps.Indptr[source + 1]; e++) row[steps.Targets[e]] = w[e];
            return row;
        }

        static double[] Column(SparseSteps steps, int t, int target, int k)
        {
            var column = (double[])steps.Floor.Clone();
            var w = steps.Weights[steps.Kind[t - 1]];
            for (int e = 0; e < steps.Targets.Length; e++) if (steps.Targets[e] == target) column[steps.Sources[e]] = w[e];
            return column;
        }

        /// <summary>choreographer.vary_moves: the path revised slot by slot for variety.</summary>
        static int[] VaryMoves(int[] decoded, double[,] emission, SparseSteps steps, string[] ids, IList<TimelineSlot> slots, int[] firstOf)
        {
            var path = (int[])decoded.Clone();
            int k = ids.Length, n = path.Length;
            var moves = new string[k];
            var index = new Dictionary<string, int>();
            for (int c = 0; c < k; c++) { moves[c] = LibraryAsset.MoveOf(ids[c]); index[ids[c]] = c; }
            var twins = new int[k];
            for (int c = 0; c < k; c++)
            {
                string twin = ids[c].EndsWith("-mirror", StringComparison.Ordinal) ? ids[c].Substring(0, ids[c].Length - 7) : ids[c] + "-mirror";
                int found;
                twins[c] = index.TryGetValue(twin, out found) ? found : -1;
            }
            var uses = new Dictionary<string, int>();
            var score = new double[k];
            for (int t = 0; t < n; t++)
            {
                if (firstOf[t] >= 0) path[t] = path[firstOf[t]];
                else
                {
                    for (int c = 0; c < k; c++) score[c] = emission[t, c];
                    if (t > 0)
                    {
                        var row = Row(steps, t, path[t - 1], k);
                        for (int c = 0; c < k; c++) score[c] *= row[c];
                    }
                    if (t + 1 < n && 0 <= firstOf[t + 1] && firstOf[t + 1] < t)
                    {
                        var column = Column(steps, t + 1, path[firstOf[t + 1]], k);
                        for (int c = 0; c < k; c++) score[c] *= column[c];
                    }
                    bool samePhrase = t > 0 && slots[t].MusicPhrase == slots[t - 1].MusicPhrase;
                    int from = Math.Max(t - MoveWindow, 0);
                    int choice = VaryStep(score, moves, twins, path, from, t, uses, samePhrase);
                    if (choice >= 0) path[t] = choice;
                }
                int used;
                uses.TryGetValue(moves[path[t]], out used);
                uses[moves[path[t]]] = used + 1;
            }
            return path;
        }

        static int VaryStep(double[] score, string[] moves, int[] twins, int[] path, int from, int to, Dictionary<string, int> uses, bool samePhrase)
        {
            int k = score.Length;
            var recent = new HashSet<string>();
            for (int t = from; t < to; t++) recent.Add(moves[path[t]]);
            var allowed = new bool[k];
            for (int c = 0; c < k; c++)
            {
                int used;
                uses.TryGetValue(moves[c], out used);
                score[c] *= Math.Pow(ReusePenalty, used);
                allowed[c] = !recent.Contains(moves[c]);
            }
            if (samePhrase && to > from)
            {
                int twin = twins[path[to - 1]];
                var before = new HashSet<string>();
                for (int t = from; t < to - 1; t++) before.Add(moves[path[t]]);
                if (twin >= 0 && !before.Contains(moves[twin]))
                {
                    allowed[twin] = true;
                    int used;
                    uses.TryGetValue(moves[twin], out used);
                    score[twin] /= Math.Pow(ReusePenalty, used);
                }
            }
            int best = -1;
            double bestScore = -1.0;
            bool any = false;
            for (int c = 0; c < k; c++)
            {
                if (allowed[c] && score[c] > 0) any = true;
                double v = allowed[c] ? score[c] : -1.0;
                if (best < 0 || v > bestScore) { best = c; bestScore = v; }
            }
            return any ? best : -1;
        }

        DanceTimeline Build(MusicAnalysis analysis, List<TimelineSlot> slots, int[] path, double[,] emission, SparseSteps steps,
                            string[] ids, string style, string songPath)
        {
            var timeline = new DanceTimeline
            {
                SongPath = songPath, DurationS = Math.Round(analysis.DurationS, 4), TempoBpm = Math.Round(analysis.TempoBpm, 3),
                SongMeter = analysis.Meter, Library = Library.LibraryPath, Fps = Fps, Seed = Seed, Style = style, Decoder = "viterbi",
            };
            var rawSlots = new List<object>();
            int k = ids.Length;
            var order = new int[k];
            for (int t = 0; t < slots.Count; t++)
            {
                var slot = slots[t];
                int chosen = path[t];
                slot.PhraseId = ids[chosen];
                slot.Score = emission[t, chosen];
                for (int c = 0; c < k; c++) order[c] = c;
                int row = t;
                Array.Sort(order, (a, b) => { int r = emission[row, b].CompareTo(emission[row, a]); return r != 0 ? r : a.CompareTo(b); });
                var alternatives = new List<object>();
                for (int r = 0; r < Math.Min(TopK, k); r++)
                {
                    slot.Alternatives.Add(new PhraseAlternative { PhraseId = ids[order[r]], Score = Math.Round(emission[t, order[r]], 6) });
                    alternatives.Add(new Dictionary<string, object> { { "phrase_id", ids[order[r]] }, { "score", Math.Round(emission[t, order[r]], 6) } });
                }
                slot.TransitionPrior = t == 0 ? (double?)null : steps.Value(t, path[t - 1], chosen);
                timeline.Slots.Add(slot);
                var beats = new List<object>();
                foreach (double b in slot.BeatTimesS) beats.Add(Math.Round(b, 4));
                rawSlots.Add(new Dictionary<string, object>
                {
                    { "index", (long)slot.Index }, { "start_s", Math.Round(slot.StartS, 4) }, { "end_s", Math.Round(slot.EndS, 4) },
                    { "beat_times_s", beats }, { "meter", (long)slot.Meter }, { "music_phrase", (long)slot.MusicPhrase },
                    { "section_label", slot.SectionLabel }, { "position_in_section", (long)slot.PositionInSection },
                    { "position_in_phrase", (long)slot.PositionInPhrase }, { "tempo_bpm", Math.Round(slot.TempoBpm, 4) },
                    { "energy", Math.Round(slot.Energy, 4) }, { "onset_density_per_s", Math.Round(slot.OnsetDensityPerS, 4) },
                    { "phrase_id", slot.PhraseId }, { "score", Math.Round(slot.Score, 6) }, { "alternatives", alternatives },
                    { "transition_prior", slot.TransitionPrior.HasValue ? (object)Math.Round(slot.TransitionPrior.Value, 6) : null },
                });
            }
            timeline.Raw = new Dictionary<string, object>
            {
                { "schema", DanceTimeline.Schema }, { "version", (long)DanceTimeline.Version },
                { "song", new Dictionary<string, object> { { "path", songPath }, { "duration_s", timeline.DurationS },
                                                           { "tempo_bpm", timeline.TempoBpm }, { "meter", (long)timeline.SongMeter } } },
                { "library", Library.LibraryPath }, { "fps", Fps }, { "seed", Seed }, { "style", style }, { "decoder", "viterbi" },
                { "slots", rawSlots },
            };
            return timeline;
        }
    }
}
