// Emission scores: how well each candidate phrase suits each slot, [slots x candidates].
// One interface (IPhraseScorer), the transparent FeatureScorer (musicdance.choreo.scoring) and
// the bundle's learned scorer (musicdance.choreo.onnx_scorer.OnnxScorer) mixed with it
// geometrically; the bundle's graph runs behind IProbabilityModel: onnxruntime's C API here
// (OrtProbabilityModel), Unity Sentis in the engine (SentisProbabilityModel, UNITY_SENTIS).
using System;
using System.Collections.Generic;
using MdTool.Dance.Analysis;

namespace MdTool.Dance.Choreography
{
    public interface IPhraseScorer
    {
        /// <summary>Non-negative scores [slots.Count, rows.Length] of library rows.</summary>
        double[,] Score(IList<TimelineSlot> slots, int[] rows);
    }

    /// <summary>A bundle's probabilities graph: phrase inputs [n, 128, 128] -> [n, classes].</summary>
    public interface IProbabilityModel : IDisposable
    {
        int NumClasses { get; }
        float[] Probabilities(float[] mel, int count);
    }

    public sealed class FeatureScorer : IPhraseScorer
    {
        public double TempoWidthOctaves = 0.2, EnergyWidth = 0.22, Floor = 1e-3;
        readonly LibraryAsset library;

        public FeatureScorer(LibraryAsset library) { this.library = library; }

        /// <summary>Music intensity per slot in [0, 1]: energy, nudged by onset density.</summary>
        public static double[] Intensity(IList<TimelineSlot> slots)
        {
            int n = slots.Count;
            var result = new double[n];
            if (n == 0) return result;
            double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
            foreach (var s in slots) { lo = Math.Min(lo, s.OnsetDensityPerS); hi = Math.Max(hi, s.OnsetDensityPerS); }
            double spread = hi - lo;
            for (int i = 0; i < n; i++)
            {
                double busy = spread > 1e-9 ? (slots[i].OnsetDensityPerS - lo) / spread : 0.5;
                result[i] = Math.Min(Math.Max(0.75 * slots[i].Energy + 0.25 * busy, 0.0), 1.0);
            }
            return result;
        }

        public static double TempoFit(double musicBpm, double phraseBpm, double widthOctaves)
        {
            double ratio = Math.Log(musicBpm / phraseBpm, 2.0);
            double gap = Math.Min(Math.Min(Math.Abs(ratio + 1.0), Math.Abs(ratio)), Math.Abs(ratio - 1.0));
            double penalty = Math.Abs(ratio) > 0.5 ? 0.8 : 1.0;
            double g = gap / widthOctaves;
            return penalty * Math.Exp(-0.5 * (g * g));
        }

        public double[,] Score(IList<TimelineSlot> slots, int[] rows)
        {
            var intensity = Intensity(slots);
            var result = new double[slots.Count, rows.Length];
            for (int t = 0; t < slots.Count; t++)
            {
                int slotMeter = slots[t].Meter == 3 ? 3 : 4;
                for (int c = 0; c < rows.Length; c++)
                {
                    int k = rows[c];
                    double e = (intensity[t] - library.Energy[k]) / EnergyWidth;
                    double v = TempoFit(slots[t].TempoBpm, library.TempoBpm[k], TempoWidthOctaves) * Math.Exp(-0.5 * (e * e));
                    if ((library.Meter[k] == 3 ? 3 : 4) != slotMeter) v *= 0.02;
                    result[t, c] = Math.Max(v, Floor);
                }
            }
            return result;
        }
    }

    /// <summary>The per-slot model input (musicdance.audio.model_input.span_inputs): the slot's
    /// log-mel frames scaled by the song's loudest bin to [0, 1] and resized to 128 columns.</summary>
    public static class ModelInput
    {
        public const int Size = 128;
        public const double DbRange = 80.0;

        /// <summary>Writes the [128, 128] input of one span into mel at offset.</summary>
        public static void Span(MusicAnalysis analysis, double startS, double endS, float refDb, float[] mel, int offset)
        {
            var db = analysis.LogMelDb;
            int bands = db.GetLength(0), frames = db.GetLength(1);
            if (bands != Size) throw new DanceFormatException("the model input needs " + Size + " mel bands, the analysis has " + bands);
            if (!(0.0 <= startS && startS < endS) || startS >= analysis.DurationS)
                throw new DanceFormatException("span " + startS.ToString("F3") + "-" + endS.ToString("F3") + " s is empty or outside the song");
            double fps = analysis.Fps;
            int start = (int)Math.Round(startS * fps, MidpointRounding.ToEven);
            int end = Math.Max((int)Math.Round(endS * fps, MidpointRounding.ToEven), start + 1);
            start = Math.Max(0, start);
            end = Math.Min(frames, end);
            if (end <= start) throw new DanceFormatException("empty span: frames [" + start + ", " + end + ") of " + frames);
            int n = end - start;
            float low = (float)(refDb - DbRange);
            var row = new float[n];
            var csum = new double[n + 1];
            for (int b = 0; b < bands; b++)
            {
                for (int i = 0; i < n; i++)
                {
                    float v = (db[b, start + i] - low) / (float)DbRange;
                    row[i] = v < 0f ? 0f : (v > 1f ? 1f : v);
                }
                int o = offset + b * Size;
                if (n < Size)
                {
                    for (int i = 0; i < Size; i++)
                    {
                        double pos = (i + 0.5) * n / Size - 0.5;
                        int lo = Math.Min(Math.Max((int)Math.Floor(pos), 0), n - 1);
                        int hi = Math.Min(lo + 1, n - 1);
                        float frac = (float)Math.Min(Math.Max(pos - lo, 0.0), 1.0);
                        mel[o + i] = row[lo] * (1f - frac) + row[hi] * frac;
                    }
                }
                else
                {
                    for (int i = 0; i < n; i++) csum[i + 1] = csum[i] + row[i];
                    for (int i = 0; i < Size; i++)
                    {
                        int a = (int)Math.Floor(i * (n / (double)Size)), z = i + 1 == Size ? n : (int)Math.Floor((i + 1) * (n / (double)Size));
                        z = Math.Max(z, a + 1);
                        mel[o + i] = (float)((csum[z] - csum[a]) / (z - a));
                    }
                }
            }
        }

        public static float MaxDb(MusicAnalysis analysis)
        {
            float best = float.NegativeInfinity;
            foreach (float v in analysis.LogMelDb) if (v > best) best = v;
            return best;
        }
    }

    /// <summary>The bundle's scores mixed with the feature scorer: model^(1 - w) * features^w,
    /// the model's probabilities renormalised over the candidates and floored.</summary>
    public sealed class BundleScorer : IPhraseScorer
    {
        public const double DefaultFeatureWeight = 0.5;
        public readonly double FeatureWeight, Floor = 1e-6;
        readonly LibraryAsset library;
        readonly MusicAnalysis analysis;
        readonly IProbabilityModel model;
        readonly FeatureScorer features;
        readonly Dictionary<string, float[]> cache = new Dictionary<string, float[]>();
        public double ModelSeconds;

        public BundleScorer(LibraryAsset library, MusicAnalysis analysis, IProbabilityModel model,
                            double featureWeight = DefaultFeatureWeight)
        {
            if (!(featureWeight >= 0.0 && featureWeight <= 1.0)) throw new ArgumentException("feature weight must be in [0, 1]");
            if (!library.HasBundle) throw new DanceAssetException("the library asset was exported without a bundle");
            if (model.NumClasses != library.BundleNumClasses)
                throw new DanceAssetException("the model has " + model.NumClasses + " classes, the library's bundle " + library.BundleNumClasses);
            this.library = library;
            this.analysis = analysis;
            this.model = model;
            FeatureWeight = featureWeight;
            features = new FeatureScorer(library);
        }

        static string Key(TimelineSlot s) { return Math.Round(s.StartS, 6).ToString("R") + "/" + Math.Round(s.EndS, 6).ToString("R"); }

        /// <summary>The model's probabilities over all classes for each slot (cached per span).</summary>
        public float[][] Probabilities(IList<TimelineSlot> slots)
        {
            var todo = new List<TimelineSlot>();
            var seen = new HashSet<string>();
            foreach (var s in slots)
                if (!cache.ContainsKey(Key(s)) && seen.Add(Key(s))) todo.Add(s);
            if (todo.Count > 0)
            {
                var clock = System.Diagnostics.Stopwatch.StartNew();
                float refDb = ModelInput.MaxDb(analysis);
                const int batch = 64;
                int classes = model.NumClasses, size = ModelInput.Size * ModelInput.Size;
                for (int a = 0; a < todo.Count; a += batch)
                {
                    int n = Math.Min(batch, todo.Count - a);
                    var mel = new float[n * size];
                    for (int i = 0; i < n; i++) ModelInput.Span(analysis, todo[a + i].StartS, todo[a + i].EndS, refDb, mel, i * size);
                    var probs = model.Probabilities(mel, n);
                    for (int i = 0; i < n; i++)
                    {
                        var row = new float[classes];
                        Array.Copy(probs, i * classes, row, 0, classes);
                        cache[Key(todo[a + i])] = row;
                    }
                }
                ModelSeconds += clock.Elapsed.TotalSeconds;
            }
            var result = new float[slots.Count][];
            for (int i = 0; i < slots.Count; i++) result[i] = cache[Key(slots[i])];
            return result;
        }

        static double Power(double x, double p) { return p == 0.5 ? Math.Sqrt(x) : (p == 1.0 ? x : Math.Pow(x, p)); }

        public double[,] Score(IList<TimelineSlot> slots, int[] rows)
        {
            var probs = Probabilities(slots);
            double w = FeatureWeight;
            var mix = w > 0 ? features.Score(slots, rows) : null;
            var result = new double[slots.Count, rows.Length];
            for (int t = 0; t < slots.Count; t++)
            {
                double sum = 0;
                for (int c = 0; c < rows.Length; c++) sum += probs[t][library.BundleColumns[rows[c]]];
                double scale = w < 1.0 ? Math.Max(sum, 1e-30) : 1.0;
                for (int c = 0; c < rows.Length; c++)
                {
                    double m = Math.Max(probs[t][library.BundleColumns[rows[c]]] / scale, Floor);
                    result[t, c] = w == 0.0 ? m : Power(m, 1.0 - w) * Power(Math.Max(mix[t, c], Floor), w);
                }
            }
            return result;
        }
    }
}
