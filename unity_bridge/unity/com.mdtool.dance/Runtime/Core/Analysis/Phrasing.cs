// Onsets, rhythm target, phrase breaks and phrase cutting: the port of musicdance.audio.phrases.
using System;
using System.Collections.Generic;

namespace MdTool.Dance.Analysis
{
    public static class Phrasing
    {
        public const int MinBars = 2, MaxBars = 8;
        // log-prior of a phrase length in bars (index = bars)
        static readonly double[] LengthPrior = { 0, 0, -0.6, -1.6, 0.0, -1.6, -1.0, -2.0, -0.3 };

        /// <summary>Beats per dancer's count cycle: eights for 2/4 and 4/4, sixes for 3/4.</summary>
        public static int CountCycle(int meter) { return meter == 3 ? 6 : 8; }

        /// <summary>Onset frames: local maxima over +-3 frames above the +-0.25 s mean plus
        /// 0.15 x the 99th percentile, at least 0.05 s apart.</summary>
        public static int[] OnsetPeaks(float[] onsetEnv, double fps, double delta = 0.15, double waitS = 0.05)
        {
            int n = onsetEnv.Length;
            var env = new double[n];
            double mx = double.NegativeInfinity;
            for (int i = 0; i < n; i++) { env[i] = onsetEnv[i]; mx = Math.Max(mx, env[i]); }
            if (n < 7 || mx <= 0) return new int[0];
            double scale = Stats.Percentile(env, 99);
            if (scale <= 0) return new int[0];
            int w = Math.Max(1, (int)(0.25 * fps));
            int wait = Math.Max(1, Stats.RoundInt(waitS * fps));
            var keep = new List<int>();
            int last = -wait - 1;
            double inv = 1.0 / (2 * w + 1);
            for (int t = 0; t < n; t++)
            {
                double localMax = double.NegativeInfinity;
                for (int j = t - 3; j <= t + 3; j++) localMax = Math.Max(localMax, env[Math.Min(Math.Max(j, 0), n - 1)]);
                if (!(env[t] >= localMax)) continue;
                double acc = 0;
                for (int j = t - w; j <= t + w; j++) acc += env[Math.Min(Math.Max(j, 0), n - 1)] * inv;
                if (!(env[t] > acc + delta * scale)) continue;
                if (t - last > wait) { keep.Add(t); last = t; }
            }
            return keep.ToArray();
        }

        /// <summary>1 at onsets and melody note starts (unvoiced to voiced, or a jump over half a
        /// semitone), else 0.</summary>
        public static float[] RhythmTarget(int[] onsetFrames, float[] melodyHz, int nFrames)
        {
            var outR = new float[nFrames];
            foreach (int f in onsetFrames) if (f >= 0 && f < nFrames) outR[f] = 1f;
            int m = Math.Min(melodyHz.Length, nFrames);
            for (int t = 1; t < m; t++)
            {
                double a = melodyHz[t - 1], b = melodyHz[t];
                if (!(b > 0)) continue;
                bool start = a <= 0;
                if (!start)
                {
                    double jump = Math.Abs(12 * Math.Log(b / 440.0, 2.0) - 12 * Math.Log(a / 440.0, 2.0));
                    start = jump > 0.5;
                }
                if (start) outR[t] = 1f;
            }
            return outR;
        }

        /// <summary>Evidence of a phrase break just before each downbeat (melody rest then a new
        /// note, plus half the drum-fill ratio).</summary>
        public static double[] BreakScores(int[] downbeats, double beatPeriodFrames, float[] melodyHz, float[] onsetEnv)
        {
            int T = melodyHz.Length, p = Math.Max(1, Stats.RoundInt(beatPeriodFrames));
            var voiced = new double[T + 1];
            var onset = new double[T + 1];
            for (int t = 0; t < T; t++)
            {
                voiced[t + 1] = voiced[t] + (melodyHz[t] > 0 ? 1 : 0);
                onset[t + 1] = onset[t] + onsetEnv[t];
            }
            var outB = new double[downbeats.Length];
            for (int j = 0; j < downbeats.Length; j++)
            {
                int d = Math.Min(Math.Max(downbeats[j], 0), T);
                int lo = Math.Min(Math.Max(d - p, 0), T), hi = Math.Min(Math.Max(d + p, 0), T);
                double beforeUnvoiced = 1 - (voiced[d] - voiced[lo]) / Math.Max(d - lo, 1);
                double afterVoiced = (voiced[hi] - voiced[d]) / Math.Max(hi - d, 1);
                int barLo = Math.Min(Math.Max(d - 4 * p, 0), T);
                double lastBeat = (onset[d] - onset[lo]) / Math.Max(d - lo, 1);
                double barMean = (onset[d] - onset[barLo]) / Math.Max(d - barLo, 1);
                double fill = Math.Min(Math.Max(lastBeat / Math.Max(barMean, 1e-9) - 1, -1), 1);
                if (barMean <= 1e-9) fill = 0;
                outB[j] = (beforeUnvoiced + afterVoiced - 1) + 0.5 * fill;
            }
            return outB;
        }

        /// <summary>Bar offset (0-3) of the song's 4-bar grid: the phase with the most break evidence.</summary>
        public static int HypermetricPhase(double[] breaks, int unitBars = 4)
        {
            int n = breaks.Length;
            if (n < 2 * unitBars) return 0;
            int best = 0;
            double bestMean = double.NegativeInfinity;
            for (int phase = 0; phase < unitBars; phase++)
            {
                double acc = 0;
                int count = 0;
                for (int i = phase; i < n; i += unitBars) if (i > 0) { acc += breaks[i]; count++; }
                double mean = acc / count;
                if (mean > bestMean) { bestMean = mean; best = phase; }
            }
            return best;
        }

        /// <summary>Prior for a phrase start at each bar: 0.3 on the 4-bar grid, half on the 2-bar grid.</summary>
        public static double[] GridBonus(int nBars, int phase, double bonus = 0.3)
        {
            var g = new double[nBars];
            for (int i = 0; i < nBars; i++)
            {
                int off = ((i - phase) % 4 + 4) % 4;
                g[i] = off == 0 ? bonus : off == 2 ? bonus / 2 : 0.0;
            }
            return g;
        }

        /// <summary>Best phrase lengths (2-8 bars) for a section; breaks[0] is the section start.</summary>
        public static List<int> CutSection(int nBars, double[] breaks, int offset)
        {
            var lengths = new List<int>();
            if (nBars < MinBars) { if (nBars > 0) lengths.Add(nBars); return lengths; }
            var best = new double[nBars + 1];
            var back = new int[nBars + 1];
            for (int i = 1; i <= nBars; i++) best[i] = double.NegativeInfinity;
            for (int end = MinBars; end <= nBars; end++)
                for (int length = MinBars; length <= Math.Min(MaxBars, end); length++)
                {
                    int start = end - length;
                    if (double.IsNegativeInfinity(best[start])) continue;
                    double gain = best[start] + LengthPrior[length] + (start > 0 ? breaks[offset + start] : 0.0);
                    if (gain > best[end]) { best[end] = gain; back[end] = length; }
                }
            int e = nBars;
            while (e > 0) { lengths.Add(back[e]); e -= back[e]; }
            lengths.Reverse();
            return lengths;
        }
    }
}
