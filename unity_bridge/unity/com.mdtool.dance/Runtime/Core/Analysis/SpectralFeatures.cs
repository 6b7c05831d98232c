// Frame-level features from one STFT pass: the port of musicdance.audio.features.compute_features
// and musicdance.audio.melody (2048-point periodic Hann frames every 512 samples, centred with
// zero padding; Slaney mel filterbank computed here exactly as the Python code does; log-mel dB
// floored 80 dB below the song's maximum; chroma, bass chroma, RMS, centroid, onset envelopes,
// harmonic-summation melody).
using System;

namespace MdTool.Dance.Analysis
{
    /// <summary>Per-frame features of a song (arrays are [band, frame]).</summary>
    public sealed class SpectralFeatures
    {
        public const int NFft = 2048, HopLength = 512, NMels = 128;
        public const double LowBandMaxHz = 200.0, TopDb = 80.0;

        public int SampleRateHz;
        public int NFrames;
        public float[,] LogMelDb;     // 128 x T
        public float[,] Chroma;       // 12 x T
        public float[,] ChromaBass;   // 12 x T
        public float[] Rms, CentroidHz, OnsetEnv, OnsetEnvLow, MelodyHz, MelodySalience;

        public double Fps { get { return (double)SampleRateHz / HopLength; } }

        // ------------------------------------------------------------ scales and filterbanks
        public static double HzToMel(double hz)
        {
            const double fSp = 200.0 / 3;
            double minLogMel = 1000.0 / fSp, logstep = Math.Log(6.4) / 27.0;
            return hz >= 1000.0 ? minLogMel + Math.Log(Math.Max(hz, 1e-9) / 1000.0) / logstep : hz / fSp;
        }

        public static double MelToHz(double mel)
        {
            const double fSp = 200.0 / 3;
            double minLogMel = 1000.0 / fSp, logstep = Math.Log(6.4) / 27.0;
            return mel >= minLogMel ? 1000.0 * Math.Exp(logstep * (mel - minLogMel)) : fSp * mel;
        }

        /// <summary>numpy.linspace(start, stop, num) (same formula, so the same doubles).</summary>
        public static double[] Linspace(double start, double stop, int num)
        {
            var y = new double[num];
            if (num == 1) { y[0] = start; return y; }
            double div = num - 1, step = (stop - start) / div;
            for (int i = 0; i < num; i++) y[i] = i * step + start;
            y[num - 1] = stop;
            return y;
        }

        /// <summary>Slaney-normalised triangular mel filters (librosa.filters.mel defaults),
        /// [n_mels, 1 + n_fft / 2], rounded to float32 like the Python filterbank.</summary>
        public static float[,] MelFilterbank(int srHz, int nFft, int nMels)
        {
            int nBins = 1 + nFft / 2;
            double[] fftHz = Linspace(0, srHz / 2.0, nBins);
            double[] melPts = Linspace(HzToMel(0.0), HzToMel(srHz / 2.0), nMels + 2);
            var melHz = new double[nMels + 2];
            for (int i = 0; i < melHz.Length; i++) melHz[i] = MelToHz(melPts[i]);
            var w = new float[nMels, nBins];
            for (int m = 0; m < nMels; m++)
            {
                double fLo = melHz[m + 1] - melHz[m], fHi = melHz[m + 2] - melHz[m + 1];
                double enorm = 2.0 / (melHz[m + 2] - melHz[m]);
                for (int b = 0; b < nBins; b++)
                {
                    double lower = -(melHz[m] - fftHz[b]) / fLo;
                    double upper = (melHz[m + 2] - fftHz[b]) / fHi;
                    double v = Math.Max(0.0, Math.Min(lower, upper));
                    w[m, b] = (float)(v * enorm);
                }
            }
            return w;
        }

        /// <summary>FFT bins to 12 pitch classes (Gaussian of 0.5 semitone), row 0 = C.</summary>
        public static float[,] ChromaFilterbank(int srHz, int nFft, double fminHz, double fmaxHz)
        {
            int nBins = 1 + nFft / 2;
            double[] fftHz = Linspace(0, srHz / 2.0, nBins);
            var w = new float[12, nBins];
            for (int b = 0; b < nBins; b++)
            {
                if (fftHz[b] < fminHz || fftHz[b] > fmaxHz) continue;
                double midi = 69 + 12 * Math.Log(Math.Max(fftHz[b], 1e-6) / 440.0, 2.0);
                for (int pc = 0; pc < 12; pc++)
                {
                    double dist = PyMod(midi - pc, 12.0);
                    dist = Math.Min(dist, 12 - dist);
                    w[pc, b] = (float)Math.Exp(-0.5 * (dist / 0.5) * (dist / 0.5));
                }
            }
            return w;
        }

        static double PyMod(double a, double b)
        {
            double r = a % b;
            return r < 0 ? r + b : r;
        }

        /// <summary>Nonzero span of each row of a filterbank, for sparse products.</summary>
        internal sealed class SparseRows
        {
            public int[] Start;
            public float[][] Weights;

            public SparseRows(float[,] dense)
            {
                int rows = dense.GetLength(0), cols = dense.GetLength(1);
                Start = new int[rows]; Weights = new float[rows][];
                for (int r = 0; r < rows; r++)
                {
                    int lo = 0, hi = cols - 1;
                    while (lo < cols && dense[r, lo] == 0f) lo++;
                    while (hi >= lo && dense[r, hi] == 0f) hi--;
                    if (lo > hi) { Start[r] = 0; Weights[r] = new float[0]; continue; }
                    Start[r] = lo;
                    Weights[r] = new float[hi - lo + 1];
                    for (int c = lo; c <= hi; c++) Weights[r][c - lo] = dense[r, c];
                }
            }

            public double Dot(int row, double[] x)
            {
                float[] w = Weights[row];
                int s = Start[row];
                double acc = 0;
                for (int i = 0; i < w.Length; i++) acc += w[i] * x[s + i];
                return acc;
            }
        }

        // ------------------------------------------------------------ the STFT pass
        /// <summary>Every frame-level feature of y (mono, at srHz); progress gets 0..1. binGain
        /// (1 + n_fft / 2 values, or null) scales each frame's magnitude spectrum.</summary>
        public static SpectralFeatures Compute(float[] y, int srHz, Action<float> progress, double[] binGain = null)
        {
            int nFrames = 1 + y.Length / HopLength, nBins = 1 + NFft / 2, half = NFft / 2;
            var mel = new SparseRows(MelFilterbank(srHz, NFft, NMels));
            var chromaFb = new SparseRows(ChromaFilterbank(srHz, NFft, 55.0, 4000.0));
            var bassFb = new SparseRows(ChromaFilterbank(srHz, NFft, 30.0, 250.0));
            var melody = new MelodyExtractor(srHz, NFft);
            var window = new double[NFft];
            for (int i = 0; i < NFft; i++) window[i] = (float)(0.5 - 0.5 * Math.Cos(2 * Math.PI * i / NFft));
            double[] fftHz = Linspace(0, srHz / 2.0, nBins);
            for (int b = 0; b < nBins; b++) fftHz[b] = (float)fftHz[b];

            var f = new SpectralFeatures
            {
                SampleRateHz = srHz, NFrames = nFrames,
                LogMelDb = new float[NMels, nFrames], Chroma = new float[12, nFrames],
                ChromaBass = new float[12, nFrames], Rms = new float[nFrames],
                CentroidHz = new float[nFrames], MelodySalience = new float[nFrames],
            };
            var f0Raw = new float[nFrames];
            var fft = new RealFft(NFft);
            var frame = new double[NFft];
            var mag = new double[nBins];
            var power = new double[nBins];
            int reportEvery = Math.Max(1, nFrames / 50);
            for (int t = 0; t < nFrames; t++)
            {
                int s0 = t * HopLength - half;
                double sq = 0;
                if (s0 >= 0 && s0 + NFft <= y.Length)
                {
                    for (int i = 0; i < NFft; i++) frame[i] = y[s0 + i] * window[i];
                    for (int i = half - HopLength; i < half + HopLength; i++) { double v = y[s0 + i]; sq += v * v; }
                }
                else
                {
                    for (int i = 0; i < NFft; i++)
                    {
                        int s = s0 + i;
                        double v = s >= 0 && s < y.Length ? y[s] : 0.0;
                        if (i >= half - HopLength && i < half + HopLength) sq += v * v;
                        frame[i] = v * window[i];
                    }
                }
                f.Rms[t] = (float)Math.Sqrt(sq / (2 * HopLength));
                fft.Magnitude(frame, mag);
                if (binGain != null) for (int b = 0; b < nBins; b++) mag[b] *= binGain[b];
                double total = 0, weighted = 0;
                for (int b = 0; b < nBins; b++)
                {
                    double m = (float)mag[b];
                    mag[b] = m;
                    power[b] = m * m;
                    total += m;
                    weighted += m * fftHz[b];
                }
                f.CentroidHz[t] = total > 1e-8 ? (float)(weighted / total) : 0f;
                for (int m = 0; m < NMels; m++) f.LogMelDb[m, t] = (float)mel.Dot(m, power);
                for (int c = 0; c < 12; c++)
                {
                    f.Chroma[c, t] = (float)chromaFb.Dot(c, power);
                    f.ChromaBass[c, t] = (float)bassFb.Dot(c, power);
                }
                float f0, sal;
                melody.Frame(mag, out f0, out sal);
                f0Raw[t] = f0; f.MelodySalience[t] = sal;
                if (progress != null && t % reportEvery == 0) progress((float)t / nFrames);
            }

            double top = double.NegativeInfinity;
            for (int m = 0; m < NMels; m++)
                for (int t = 0; t < nFrames; t++)
                {
                    float db = (float)(10.0 * Math.Log10(Math.Max(f.LogMelDb[m, t], 1e-10f)));
                    f.LogMelDb[m, t] = db;
                    if (db > top) top = db;
                }
            float floorDb = (float)(top - TopDb);
            for (int m = 0; m < NMels; m++)
                for (int t = 0; t < nFrames; t++)
                    if (f.LogMelDb[m, t] < floorDb) f.LogMelDb[m, t] = floorDb;
            NormaliseColumns(f.Chroma);
            NormaliseColumns(f.ChromaBass);
            double[] centres = Linspace(0, HzToMel(srHz / 2.0), NMels + 2);
            int nLow = 0;
            while (nLow < NMels && HzToMel(LowBandMaxHz) > centres[nLow + 1]) nLow++;
            f.OnsetEnv = OnsetEnvelope(f.LogMelDb, NMels);
            f.OnsetEnvLow = OnsetEnvelope(f.LogMelDb, nLow);
            f.MelodyHz = MelodyExtractor.Postprocess(f0Raw, f.MelodySalience, f.Rms, f.Fps);
            return f;
        }

        static void NormaliseColumns(float[,] a)
        {
            int rows = a.GetLength(0), cols = a.GetLength(1);
            for (int t = 0; t < cols; t++)
            {
                float mx = 1e-10f;
                for (int r = 0; r < rows; r++) if (a[r, t] > mx) mx = a[r, t];
                for (int r = 0; r < rows; r++) a[r, t] /= mx;
            }
        }

        /// <summary>Spectral flux over the first nBands bands: mean positive dB rise per frame.</summary>
        public static float[] OnsetEnvelope(float[,] logMelDb, int nBands)
        {
            int n = logMelDb.GetLength(1);
            var env = new float[n];
            if (nBands == 0) return env;
            for (int t = 1; t < n; t++)
            {
                double acc = 0;
                for (int m = 0; m < nBands; m++)
                {
                    float d = logMelDb[m, t] - logMelDb[m, t - 1];
                    if (d > 0) acc += d;
                }
                env[t] = (float)(acc / nBands);
            }
            return env;
        }
    }

    /// <summary>Harmonic-summation melody (musicdance.audio.melody): 133 candidates on a
    /// 1/3-semitone grid from MIDI 52 to 96, five harmonics, |X|^0.3, a tilt to high pitches.</summary>
    public sealed class MelodyExtractor
    {
        const double MidiMin = 52.0, MidiMax = 96.0, MagPower = 0.3, VoicingRelative = 0.75;
        const int BinsPerSemitone = 3, NHarmonics = 5;
        readonly double[] _midi;
        readonly int[][] _bins;
        readonly float[][] _weights;
        readonly int _maxBin;
        readonly double[] _compressed;
        readonly double[] _sal;

        public MelodyExtractor(int srHz, int nFft)
        {
            double step = (MidiMin + 1.0 / BinsPerSemitone) - MidiMin;  // numpy.arange's delta
            int n = (int)Math.Ceiling((MidiMax + 1e-9 - MidiMin) / (1.0 / BinsPerSemitone));
            _midi = new double[n];
            for (int i = 0; i < n; i++) _midi[i] = MidiMin + i * step;
            int nBins = 1 + nFft / 2;
            double binHz = (double)srHz / nFft, fmax = Math.Min(5000.0, srHz / 2.0 - binHz);
            var dense = new float[n, nBins];
            for (int c = 0; c < n; c++)
            {
                double f0 = MidiToHz(_midi[c]);
                for (int h = 1; h <= NHarmonics; h++)
                {
                    if (!(h * f0 < fmax)) continue;
                    double k = h * f0 / binHz;
                    int k0 = (int)Math.Floor(k);
                    double frac = k - k0, w = Math.Pow(0.6, h - 1);
                    dense[c, k0] += (float)(w * (1 - frac));
                    dense[c, k0 + 1] += (float)(w * frac);
                }
                double tilt = 1 + 1.0 * (_midi[c] - MidiMin) / (MidiMax - MidiMin);
                for (int b = 0; b < nBins; b++) dense[c, b] = (float)(dense[c, b] * tilt);
            }
            _bins = new int[n][]; _weights = new float[n][];
            for (int c = 0; c < n; c++)
            {
                int count = 0;
                for (int b = 0; b < nBins; b++) if (dense[c, b] != 0f) count++;
                _bins[c] = new int[count]; _weights[c] = new float[count];
                count = 0;
                for (int b = 0; b < nBins; b++)
                    if (dense[c, b] != 0f)
                    {
                        _bins[c][count] = b; _weights[c][count] = dense[c, b]; count++;
                        if (b > _maxBin) _maxBin = b;
                    }
            }
            _compressed = new double[_maxBin + 1];
            _sal = new double[n];
        }

        public static double MidiToHz(double midi) { return midi > 0 ? 440.0 * Math.Pow(2.0, (midi - 69) / 12.0) : 0.0; }
        public static double HzToMidi(double hz) { return hz > 0 ? 69 + 12 * Math.Log(Math.Max(hz, 1e-9) / 440.0, 2.0) : 0.0; }

        /// <summary>Strongest candidate f0 (parabolic refinement) and its salience for one frame.</summary>
        public void Frame(double[] mag, out float f0Hz, out float peak)
        {
            for (int b = 0; b <= _maxBin; b++)
            {
                double v = mag[b];
                _compressed[b] = v > 0 ? (float)Math.Exp(MagPower * Math.Log(v)) : 0f;  // |X|^0.3
            }
            int n = _midi.Length, best = 0;
            for (int c = 0; c < n; c++)
            {
                int[] bins = _bins[c];
                float[] w = _weights[c];
                double acc = 0;
                for (int i = 0; i < bins.Length; i++) acc += _compressed[bins[i]] * w[i];
                _sal[c] = (float)acc;
                if (_sal[c] > _sal[best]) best = c;
            }
            int idx = Math.Min(Math.Max(best, 1), n - 2);
            double a = _sal[idx - 1], bb = _sal[idx], cc = _sal[idx + 1];
            double denom = a - 2 * bb + cc;
            double shift = Math.Abs(denom) > 1e-12 ? 0.5 * (a - cc) / denom : 0.0;
            shift = best == idx ? Math.Min(Math.Max(shift, -0.5), 0.5) : 0.0;
            double midi = _midi[best] + shift / BinsPerSemitone;
            f0Hz = (float)MidiToHz(midi);
            peak = (float)_sal[best];
        }

        /// <summary>Voicing, median smoothing and short-blip removal (melody.postprocess).</summary>
        public static float[] Postprocess(float[] f0Hz, float[] peak, float[] rms, double fps)
        {
            int n = f0Hz.Length;
            var outHz = new float[n];
            if (n == 0) return outHz;
            double loudMin = Math.Max(1e-4, 0.02 * Stats.Percentile(rms, 95));
            double reference = Stats.Percentile(peak, 95);
            var voiced = new bool[n];
            for (int t = 0; t < n; t++)
                voiced[t] = peak[t] > VoicingRelative * reference && rms[t] > loudMin && reference > 1e-6;
            var midi = new double[n];
            for (int t = 0; t < n; t++) midi[t] = HzToMidi(f0Hz[t]);
            if (n >= 5)
            {
                var smoothed = new double[n];
                var win = new double[5];
                for (int t = 0; t < n; t++)
                {
                    for (int j = 0; j < 5; j++) win[j] = midi[Math.Min(Math.Max(t + j - 2, 0), n - 1)];
                    Array.Sort(win);
                    double med = win[2];
                    smoothed[t] = Math.Abs(midi[t] - med) > 0.7 ? med : midi[t];
                }
                midi = smoothed;
            }
            int minLen = (int)Math.Round(0.1 * fps, MidpointRounding.ToEven);
            if (minLen > 1)
            {
                int t = 0;
                while (t < n)
                {
                    if (!voiced[t]) { t++; continue; }
                    int s = t;
                    while (t < n && voiced[t]) t++;
                    if (t - s < minLen) for (int j = s; j < t; j++) voiced[j] = false;
                }
            }
            for (int t = 0; t < n; t++) outHz[t] = voiced[t] ? (float)MidiToHz(midi[t]) : 0f;
            return outHz;
        }
    }

    /// <summary>numpy-compatible statistics used by the analysis.</summary>
    public static class Stats
    {
        /// <summary>numpy.percentile(x, q) with linear interpolation.</summary>
        public static double Percentile(float[] x, double q)
        {
            var d = new double[x.Length];
            for (int i = 0; i < x.Length; i++) d[i] = x[i];
            return Percentile(d, q);
        }

        public static double Percentile(double[] x, double q)
        {
            int n = x.Length;
            if (n == 0) return double.NaN;
            var s = (double[])x.Clone();
            Array.Sort(s);
            double pos = q / 100.0 * (n - 1);
            int lo = (int)Math.Floor(pos);
            int hi = Math.Min(lo + 1, n - 1);
            double frac = pos - lo, a = s[lo], b = s[hi], diff = b - a;
            return frac >= 0.5 ? b - diff * (1 - frac) : a + diff * frac;
        }

        public static double Median(double[] x) { return Percentile(x, 50); }

        public static double Mean(double[] x)
        {
            double acc = 0;
            for (int i = 0; i < x.Length; i++) acc += x[i];
            return x.Length > 0 ? acc / x.Length : double.NaN;
        }

        public static double Std(double[] x)
        {
            double m = Mean(x), acc = 0;
            for (int i = 0; i < x.Length; i++) acc += (x[i] - m) * (x[i] - m);
            return x.Length > 0 ? Math.Sqrt(acc / x.Length) : double.NaN;
        }

        /// <summary>Python's round(x) (half to even) as an int.</summary>
        public static int RoundInt(double x) { return (int)Math.Round(x, MidpointRounding.ToEven); }

        /// <summary>Least-squares slope of y against its index (numpy.polyfit(idx, y, 1)[0]).</summary>
        public static double Slope(double[] y)
        {
            int n = y.Length;
            double mi = (n - 1) / 2.0, my = Mean(y), num = 0, den = 0;
            for (int i = 0; i < n; i++) { num += (i - mi) * (y[i] - my); den += (i - mi) * (i - mi); }
            return den > 0 ? num / den : 0.0;
        }
    }
}
