// Tempo, beats, meter and downbeats: the port of musicdance.audio.beats (autocorrelation tempo
// with a metrical comb and a log-normal prior; Ellis dynamic-programming beats; bar-start
// salience from chroma change and low onsets; Viterbi over bar positions).
using System;
using System.Collections.Generic;

namespace MdTool.Dance.Analysis
{
    public static class BeatTracker
    {
        public const double MinBpm = 50.0, MaxBpm = 220.0;
        static readonly int[] Meters = { 2, 3, 4 };

        /// <summary>Subtract a 1-second moving average, clip at zero, scale to unit std.</summary>
        public static double[] Normalise(float[] onsetEnv, double fps)
        {
            int size = onsetEnv.Length;
            var env = new double[size];
            for (int i = 0; i < size; i++) env[i] = onsetEnv[i];
            int n = Stats.RoundInt(fps);
            if (size > n)
            {
                double[] avg = ConvolveSame(env, Ones(n, 1.0 / n));
                for (int i = 0; i < size; i++) env[i] = Math.Max(env[i] - avg[i], 0);
            }
            double std = Stats.Std(env);
            for (int i = 0; i < size; i++) env[i] = std > 1e-10 ? env[i] / std : 0.0;
            return env;
        }

        static double[] Ones(int n, double v)
        {
            var k = new double[n];
            for (int i = 0; i < n; i++) k[i] = v;
            return k;
        }

        /// <summary>numpy.convolve(x, k, "same") for len(x) >= len(k).</summary>
        public static double[] ConvolveSame(double[] x, double[] k)
        {
            int n = x.Length, m = k.Length, off = (m - 1) / 2;
            var y = new double[n];
            for (int i = 0; i < n; i++)
            {
                int full = i + off;  // index into the full convolution
                int jLo = Math.Max(0, full - (n - 1)), jHi = Math.Min(m - 1, full);
                double acc = 0;
                for (int j = jLo; j <= jHi; j++) acc += x[full - j] * k[j];
                y[i] = acc;
            }
            return y;
        }

        static bool Any(double[] x)
        {
            for (int i = 0; i < x.Length; i++) if (x[i] != 0) return true;
            return false;
        }

        /// <summary>Normalised autocorrelation of x minus its mean, lags 0..maxLag.</summary>
        static double[] Autocorrelation(double[] x, int maxLag)
        {
            int n = x.Length;
            double mean = Stats.Mean(x);
            var c = new double[n];
            for (int i = 0; i < n; i++) c[i] = x[i] - mean;
            var acf = new double[maxLag + 1];
            for (int lag = 0; lag <= maxLag; lag++)
            {
                double acc = 0;
                for (int i = 0; i + lag < n; i++) acc += c[i] * c[i + lag];
                acf[lag] = acc;
            }
            if (!(acf[0] > 0)) return new double[maxLag + 1];
            double a0 = acf[0];
            for (int lag = 0; lag <= maxLag; lag++) acf[lag] /= a0;
            return acf;
        }

        /// <summary>Autocorrelation at a fractional lag (linear interpolation, 0 beyond the end,
        /// clipped at zero). fullLength: length of the full autocorrelation (len(env)).</summary>
        static double AcfAt(double[] acf, int fullLength, double lag)
        {
            double last = fullLength - 1;
            if (lag > last) return 0.0;
            if (lag == last) return Math.Max(Get(acf, fullLength - 1), 0.0);
            int i = (int)Math.Floor(lag);
            double frac = lag - i;
            double a = Get(acf, i), b = Get(acf, i + 1);
            double v = frac == 0 ? a : a + (b - a) * frac;
            return Math.Max(v, 0.0);
        }

        static double Get(double[] acf, int i) { return i < acf.Length ? acf[i] : 0.0; }

        /// <summary>Global tempo (BPM) and pulse clarity from the onset envelope.</summary>
        public static void EstimateTempo(float[] onsetEnv, double fps, out double tempoBpm, out double clarity)
        {
            const double priorBpm = 120.0, priorStdOct = 1.0, minDurationS = 4.0;
            tempoBpm = 0; clarity = 0;
            double[] env = Normalise(onsetEnv, fps);
            if (env.Length < minDurationS * fps || !Any(env)) return;
            double longest = 60.0 * fps / MinBpm;
            double start = Math.Max(2.0, 60.0 * fps / MaxBpm);
            int count = (int)Math.Ceiling((longest - start) / 0.25);
            if (count <= 0) return;
            double delta = (start + 0.25) - start;
            // lags up to 6 x the longest period are read; the rest of the ACF is never used
            int maxLag = Math.Min(env.Length - 1, (int)Math.Ceiling(6 * longest) + 2);
            double[] acf = Autocorrelation(env, maxLag);
            int n = env.Length;
            double bestScore = double.NegativeInfinity, bestLag = 0, bestBpm = 0;
            for (int i = 0; i < count; i++)
            {
                double lag = start + i * delta;
                double bpm = 60.0 * fps / lag;
                double atLag = AcfAt(acf, n, lag);
                double duple = AcfAt(acf, n, 2 * lag) + AcfAt(acf, n, 4 * lag);
                double triple = AcfAt(acf, n, 3 * lag) + AcfAt(acf, n, 6 * lag);
                double gate = Math.Min(1.0, atLag / 0.2);
                double score = atLag + 0.5 * AcfAt(acf, n, lag / 2) + gate * Math.Max(duple, triple);
                double lr = Math.Log(bpm / priorBpm, 2.0) / priorStdOct;
                double prior = Math.Exp(-0.5 * lr * lr);
                if (score * prior > bestScore) { bestScore = score * prior; bestLag = lag; bestBpm = bpm; }
            }
            tempoBpm = bestBpm;
            clarity = AcfAt(acf, n, bestLag);
        }

        /// <summary>Ellis dynamic-programming beat tracker; beat frames, increasing.</summary>
        public static int[] TrackBeats(float[] onsetEnv, double fps, double tempoBpm, double tightness = 100.0)
        {
            if (tempoBpm <= 0) return new int[0];
            double[] env = Normalise(onsetEnv, fps);
            if (!Any(env)) return new int[0];
            double period = 60.0 * fps / tempoBpm;
            int half = (int)period;
            var window = new double[2 * half + 1];
            for (int j = 0; j < window.Length; j++)
            {
                double z = (j - half) * 32.0 / period;
                window[j] = Math.Exp(-0.5 * z * z);
            }
            double[] local = ConvolveSame(env, window);
            int n = local.Length;
            int lagMin = Math.Max(1, Stats.RoundInt(period / 2)), lagMax = Stats.RoundInt(2 * period);
            int nLags = lagMax - lagMin + 1;
            var penalty = new double[nLags];
            for (int i = 0; i < nLags; i++)
            {
                double l = Math.Log((lagMin + i) / period);
                penalty[i] = tightness * l * l;
            }
            var cum = new double[n];
            var back = new int[n];
            for (int t = 0; t < n; t++)
            {
                double best = double.NegativeInfinity;
                int bestTau = -1;
                for (int i = 0; i < nLags; i++)
                {
                    int tau = t - (lagMin + i);
                    if (tau < 0) break;
                    double c = cum[tau] - penalty[i];
                    if (c > best) { best = c; bestTau = tau; }
                }
                bool has = bestTau >= 0 && best > 0;
                cum[t] = local[t] + (has ? best : 0.0);
                back[t] = has ? bestTau : -1;
            }
            var peaks = new List<int>();
            for (int t = 1; t < n - 1; t++)
                if (cum[t] > cum[t - 1] && cum[t] >= cum[t + 1]) peaks.Add(t);
            if (peaks.Count == 0) return new int[0];
            var peakVals = new double[peaks.Count];
            for (int i = 0; i < peaks.Count; i++) peakVals[i] = cum[peaks[i]];
            double med = Stats.Median(peakVals);
            int last = peaks[peaks.Count - 1];
            for (int i = peaks.Count - 1; i >= 0; i--)
                if (cum[peaks[i]] >= 0.5 * med) { last = peaks[i]; break; }
            var beats = new List<int>();
            for (int t = last; t >= 0; t = back[t]) beats.Add(t);
            beats.Reverse();
            // trim weak beats at the start and end
            double sq = 0;
            foreach (int b in beats) sq += local[b] * local[b];
            double threshold = 0.5 * Math.Sqrt(sq / beats.Count);
            int first = -1, lastKeep = -1;
            for (int i = 0; i < beats.Count; i++)
                if (local[beats[i]] >= threshold) { if (first < 0) first = i; lastKeep = i; }
            if (first >= 0) beats = beats.GetRange(first, lastKeep - first + 1);
            return beats.ToArray();
        }

        /// <summary>Mean chroma per beat interval, [12, n_beats].</summary>
        static double[,] BeatChroma(int[] beats, float[,] chroma)
        {
            int T = chroma.GetLength(1), n = beats.Length;
            var outC = new double[12, n];
            if (n == 0) return outC;
            double step = n > 1 ? Stats.Median(Diff(beats)) : 1;
            var bounds = new int[n + 1];
            for (int i = 0; i < n; i++) bounds[i] = Math.Min(Math.Max(beats[i], 0), T);
            bounds[n] = Math.Min(Math.Max((int)(beats[n - 1] + step), 0), T);
            for (int c = 0; c < 12; c++)
            {
                var csum = new double[T + 1];
                for (int t = 0; t < T; t++) csum[t + 1] = csum[t] + chroma[c, t];
                for (int i = 0; i < n; i++)
                {
                    int w = Math.Max(bounds[i + 1] - bounds[i], 1);
                    outC[c, i] = (csum[bounds[i + 1]] - csum[bounds[i]]) / w;
                }
            }
            return outC;
        }

        internal static double[] Diff(int[] x)
        {
            var d = new double[Math.Max(x.Length - 1, 0)];
            for (int i = 0; i < d.Length; i++) d[i] = x[i + 1] - x[i];
            return d;
        }

        static double[] BarChange(double[,] bc, int meter)
        {
            int n = bc.GetLength(1);
            var csum = new double[12, n + 1];
            for (int c = 0; c < 12; c++)
                for (int i = 0; i < n; i++) csum[c, i + 1] = csum[c, i] + bc[c, i];
            var change = new double[n];
            for (int i = 0; i < n; i++)
            {
                int lo = Math.Min(Math.Max(i - meter, 0), n), hi = Math.Min(Math.Max(i + meter, 0), n);
                double dot = 0, na = 0, nb = 0;
                for (int c = 0; c < 12; c++)
                {
                    double after = (csum[c, hi] - csum[c, i]) / Math.Max(hi - i, 1);
                    double before = (csum[c, i] - csum[c, lo]) / Math.Max(i - lo, 1);
                    dot += after * before; na += after * after; nb += before * before;
                }
                double norm = Math.Sqrt(na) * Math.Sqrt(nb);
                change[i] = 1.0 - dot / Math.Max(norm, 1e-9);
            }
            double inner = 0;
            int count = 0;
            for (int i = 0; i < n; i++)
                if (!(i < meter || i > n - meter)) { inner += change[i]; count++; }
            double fill = count > 0 ? inner / count : 0.0;
            for (int i = 0; i < n; i++)
                if (i < meter || i > n - meter) change[i] = fill;
            return change;
        }

        static double[] Z(double[] x)
        {
            double s = Stats.Std(x), m = Stats.Mean(x);
            var z = new double[x.Length];
            for (int i = 0; i < x.Length; i++) z[i] = s > 1e-9 ? (x[i] - m) / s : 0.0;
            return z;
        }

        /// <summary>Bar-start salience per beat for bars of meter beats (z-scored).</summary>
        public static double[] BeatSalience(int[] beats, float[,] chroma, float[,] chromaBass,
                                            float[] onsetEnvLow, int meter)
        {
            int n = beats.Length;
            if (n < 2 * meter) return new double[n];
            double[] total = Z(BarChange(BeatChroma(beats, chroma), meter));
            double[] bass = Z(BarChange(BeatChroma(beats, chromaBass), meter));
            var low = new double[n];
            for (int i = 0; i < n; i++)
            {
                double v = 0;
                for (int off = -2; off <= 2; off++)
                {
                    int idx = Math.Min(Math.Max(beats[i] + off, 0), onsetEnvLow.Length - 1);
                    v = Math.Max(v, onsetEnvLow[idx]);
                }
                low[i] = v;
            }
            double[] lowZ = Z(low);
            var outS = new double[n];
            for (int i = 0; i < n; i++) outS[i] = (total[i] + bass[i]) + 0.5 * lowZ[i];
            return outS;
        }

        /// <summary>Beats per bar (2, 3 or 4) and each meter's score (4/4 gets +0.1).</summary>
        public static int EstimateMeter(int[] beats, float[,] chroma, float[,] chromaBass, float[] onsetEnvLow,
                                        out Dictionary<int, double> scores)
        {
            scores = new Dictionary<int, double>();
            int bestMeter = 4;
            double bestScore = double.NegativeInfinity;
            foreach (int m in Meters)
            {
                double bias = m == 4 ? 0.1 : 0.0;
                double[] sal = BeatSalience(beats, chroma, chromaBass, onsetEnvLow, m);
                double score;
                if (sal.Length < 2 * m || !Any(sal)) score = bias;
                else
                {
                    double best = double.NegativeInfinity;
                    for (int phase = 0; phase < m; phase++)
                    {
                        double on = 0, off = 0;
                        int nOn = 0, nOff = 0;
                        for (int i = 0; i < sal.Length; i++)
                            if (i % m == phase) { on += sal[i]; nOn++; } else { off += sal[i]; nOff++; }
                        best = Math.Max(best, on / nOn - off / nOff);
                    }
                    score = best + bias;
                }
                scores[m] = score;
                if (score > bestScore) { bestScore = score; bestMeter = m; }
            }
            return bestMeter;
        }

        /// <summary>Viterbi over bar positions; 1-based position of each beat, 1 = downbeat.</summary>
        public static int[] TrackDownbeats(double[] salience, int meter, double switchLogp = -16.0)
        {
            int n = salience.Length, m = meter;
            var states = new int[n];
            if (n == 0) return states;
            var score = new double[m];
            var next = new double[m];
            var back = new int[n, m];
            for (int s = 0; s < m; s++) score[s] = Emit(salience[0], s, m);
            for (int i = 1; i < n; i++)
            {
                for (int to = 0; to < m; to++)
                {
                    int arg = 0;
                    double best = double.NegativeInfinity;
                    for (int from = 0; from < m; from++)
                    {
                        double c = score[from] + ((from + 1) % m == to ? 0.0 : switchLogp);
                        if (c > best) { best = c; arg = from; }
                    }
                    back[i, to] = arg;
                    next[to] = best + Emit(salience[i], to, m);
                }
                Array.Copy(next, score, m);
            }
            int st = 0;
            for (int s = 1; s < m; s++) if (score[s] > score[st]) st = s;
            states[n - 1] = st;
            for (int i = n - 1; i > 0; i--) states[i - 1] = back[i, states[i]];
            for (int i = 0; i < n; i++) states[i] += 1;
            return states;
        }

        static double Emit(double sal, int state, int m)
        {
            return state == 0 ? sal : -sal / Math.Max(m - 1, 1);
        }
    }
}
