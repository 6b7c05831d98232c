// Band-limited resampling to the analysis rate (the Python side uses soxr "HQ"): a Kaiser-windowed
// sinc (40 zero crossings per side at the lower rate, beta 9, -6 dB at 0.935 of the lower Nyquist
// frequency; within 0.2 dB of soxr up to 0.89 of it; soxr is flat to 0.913 and much steeper
// above: the top mel bands, above 9.4 kHz at 22050 Hz, differ), polyphase over the exact
// rational ratio (up to 4096 phases; finer ratios use the nearest of 4096 phases, under 1/8192 of
// a sample of timing error; integer ratios fold the symmetric kernel). Even rates of at least
// twice the output rate are first halved by a half-band filter, half of whose taps are zero: 95
// taps where the halved rate leaves room above the analysis band (48 kHz -> 24 kHz, flat within
// 0.0004 dB to 0.44 of its input's Nyquist frequency), 191 taps for an exact halving (44.1 kHz ->
// 22050 Hz: 48 multiplies per output against the sinc's 80; its band edge is corrected like the
// sinc's, its aliasing, in the top band, is not). Output length round(n * out / in) like
// soxr.resample. MagnitudeResponse gives the response, from which MusicAnalyzer.SoxrCorrection
// scales the spectrum to soxr's band edge (SoxrResponse.cs).
using System;

namespace MdTool.Dance.Analysis
{
    public static class Resampler
    {
        public const int ZeroCrossings = 40;
        public const double KaiserBeta = 9.0;
        /// <summary>-6 dB point as a fraction of the lower Nyquist frequency.</summary>
        public const double Cutoff = 0.935;
        const int MaxPhases = 4096;

        /// <summary>This resampler's magnitude response (linear) at nBins frequencies from 0 to
        /// srOut / 2 Hz; null when it does not downsample.</summary>
        public static double[] MagnitudeResponse(int srIn, int srOut, int nBins)
        {
            if (srIn <= srOut) return null;
            double[] freqs = SpectralFeatures.Linspace(0, srOut / 2.0, nBins);
            var resp = new double[nBins];
            for (int b = 0; b < nBins; b++) resp[b] = 1.0;
            int sr = srIn;
            while (sr % 2 == 0 && sr / 2 >= srOut)
            {
                float[] odd = HalfBandWeights(HalfBandSideFor(sr, srOut));
                for (int b = 0; b < nBins; b++)
                {
                    double h = 0.5, w = 2 * Math.PI * freqs[b] / sr;
                    for (int j = 0; j < odd.Length; j++) h += 2 * odd[j] * Math.Cos(w * (2 * j + 1));
                    resp[b] *= Math.Abs(h);
                }
                sr /= 2;
            }
            if (sr == srOut) return resp;
            long g = Gcd(sr, srOut);
            long up = srOut / g;
            double scale = (double)srOut / sr, fc = Cutoff * scale;
            int half = 2 * (int)Math.Ceiling(ZeroCrossings / scale / 2);
            double i0Beta = BesselI0(KaiserBeta);
            // one phase: the taps themselves; several: the continuous kernel, 8 points per sample
            int perSample = up == 1 ? 1 : 8;
            int nPoints = 2 * half * perSample;
            var kernel = new double[nPoints];
            double t0 = -half + 1;
            for (int i = 0; i < nPoints; i++)
            {
                double t = t0 + (double)i / perSample;
                double u = t / half;
                double win = Math.Abs(u) >= 1 ? 0.0 : BesselI0(KaiserBeta * Math.Sqrt(1 - u * u)) / i0Beta;
                double x = Math.PI * fc * t;
                kernel[i] = fc * (t == 0 ? 1.0 : Math.Sin(x) / x) * win / perSample;
            }
            for (int b = 0; b < nBins; b++)
            {
                // sum of kernel(t) exp(-i w t), the phase advanced by a rotation per point
                double w = 2 * Math.PI * freqs[b] / sr, re = 0, im = 0;
                double c = Math.Cos(w * t0), sn = Math.Sin(w * t0);
                double dc = Math.Cos(w / perSample), ds = Math.Sin(w / perSample);
                for (int i = 0; i < nPoints; i++)
                {
                    re += kernel[i] * c;
                    im += kernel[i] * sn;
                    double nc = c * dc - sn * ds;
                    sn = sn * dc + c * ds;
                    c = nc;
                }
                resp[b] *= Math.Sqrt(re * re + im * im);
            }
            return resp;
        }

        static float[] HalfBandWeights(int side)
        {
            double i0Beta = BesselI0(8.0);
            var odd = new float[side / 2];  // weights at offsets 1, 3, 5, ...
            for (int j = 0; j < odd.Length; j++)
            {
                int t = 2 * j + 1;
                double u = (double)t / (side + 1);
                double win = BesselI0(8.0 * Math.Sqrt(1 - u * u)) / i0Beta;
                odd[j] = (float)(Math.Sin(Math.PI * t / 2) / (Math.PI * t) * win);
            }
            return odd;
        }

        /// <summary>Half the rate: a Kaiser-windowed half-band lowpass (cutoff at a quarter of
        /// the input rate, beta 8), every second output; zero taps and symmetry skipped.</summary>
        public static float[] HalfBand(float[] y, int side)
        {
            int n = y.Length, nOut = (n + 1) / 2;
            float[] odd = HalfBandWeights(side);
            var outY = new float[nOut];
            int reach = 2 * odd.Length - 1;
            for (int k = 0; k < nOut; k++)
            {
                int c = 2 * k;
                float acc = 0.5f * y[c];
                if (c - reach >= 0 && c + reach < n)
                {
                    for (int j = 0; j < odd.Length; j++)
                    {
                        int t = 2 * j + 1;
                        acc += odd[j] * (y[c - t] + y[c + t]);
                    }
                }
                else
                {
                    for (int j = 0; j < odd.Length; j++)
                    {
                        int t = 2 * j + 1;
                        float a = c - t >= 0 ? y[c - t] : 0f, b = c + t < n ? y[c + t] : 0f;
                        acc += odd[j] * (a + b);
                    }
                }
                outY[k] = acc;
            }
            return outY;
        }

        static long Gcd(long a, long b) { while (b != 0) { long t = a % b; a = b; b = t; } return a; }

        static double BesselI0(double x)
        {
            double sum = 1, term = 1, q = x * x / 4;
            for (int k = 1; k < 200; k++)
            {
                term *= q / ((double)k * k);
                sum += term;
                if (term < sum * 1e-17) break;
            }
            return sum;
        }

        /// <summary>Taps on each side of the half-band filter (odd offsets only are nonzero): the
        /// short one where the output rate leaves room above the analysis band (48 kHz -> 24 kHz),
        /// the long, steeper one for an exact halving to the analysis rate (44.1 kHz).</summary>
        public const int HalfBandSide = 48, HalfBandSideExact = 96;

        static int HalfBandSideFor(int srIn, int srOut)
        {
            return srIn / 2 >= 1.08 * srOut ? HalfBandSide : HalfBandSideExact;
        }

        /// <summary>y (at srIn) resampled to srOut; progress gets 0..1.</summary>
        public static float[] Resample(float[] y, int srIn, int srOut, Action<float> progress)
        {
            if (srIn == srOut) return (float[])y.Clone();
            // at least twice the output rate (44.1 or 48 kHz -> 22050 Hz): halve the rate first
            // with a half-band filter, then resample what is left (nothing at exactly 2x)
            if (srIn % 2 == 0 && srIn / 2 >= srOut)
            {
                float[] halved = HalfBand(y, HalfBandSideFor(srIn, srOut));
                Action<float> rest = progress == null ? null : (Action<float>)(p => progress(0.3f + 0.7f * p));
                if (progress != null) progress(0.3f);
                return Resample(halved, srIn / 2, srOut, rest);
            }
            long g = Gcd(srIn, srOut);
            long up = srOut / g, down = srIn / g;  // output n sits at input n * down / up
            long nOut = (2L * y.Length * up + down) / (2 * down);
            double scale = Math.Min(1.0, (double)srOut / srIn);  // lowpass at the lower Nyquist
            double fc = Cutoff * scale;
            int half = 2 * (int)Math.Ceiling(ZeroCrossings / scale / 2);  // taps a multiple of 4
            int taps = 2 * half;
            int nPhases = up <= MaxPhases ? (int)up : MaxPhases;
            double i0Beta = BesselI0(KaiserBeta);
            // table[p][j]: weight of input (i0 - half + 1 + j) for an output at i0 + p / nPhases
            var table = new float[nPhases][];
            for (int p = 0; p < nPhases; p++)
            {
                double frac = (double)p / nPhases;
                var w = new float[taps];
                for (int j = 0; j < taps; j++)
                {
                    double t = (j - half + 1) - frac;  // input offset from the output position
                    double u = t / half;
                    double win = Math.Abs(u) >= 1 ? 0.0 : BesselI0(KaiserBeta * Math.Sqrt(1 - u * u)) / i0Beta;
                    double x = Math.PI * fc * t;
                    double sinc = t == 0 ? 1.0 : Math.Sin(x) / x;
                    w[j] = (float)(fc * sinc * win);
                }
                table[p] = w;
            }
            // with one phase the kernel is symmetric (its last tap is the window's zero)
            bool symmetric = nPhases == 1 && half % 2 == 0;
            float centre = table[0][half - 1];
            var fold = new float[half];
            for (int j = 1; j < half; j++) fold[j] = table[0][half - 1 + j];
            var outY = new float[nOut];
            int n = y.Length;
            long report = Math.Max(1, nOut / 20), untilReport = 1;
            for (long k = 0; k < nOut; k++)
            {
                long num = k * down;
                long i0 = num / up;
                int p;
                if (nPhases == up) p = (int)(num % up);
                else
                {
                    p = (int)Math.Round((double)(num % up) / up * nPhases);
                    if (p == nPhases) { p = 0; i0++; }
                }
                float[] w = table[p];
                long start = i0 - half + 1;
                double acc = 0;
                if (symmetric && start >= 0 && start + taps <= n)
                {
                    // integer decimation: one phase, symmetric about its centre tap (half - 1)
                    int c = (int)start + half - 1;
                    float a0 = centre * y[c], a1 = 0f;
                    for (int j = 1; j < half - 1; j += 2)
                    {
                        a0 += fold[j] * (y[c - j] + y[c + j]);
                        a1 += fold[j + 1] * (y[c - j - 1] + y[c + j + 1]);
                    }
                    acc = a0 + a1 + fold[half - 1] * (y[c - half + 1] + y[c + half - 1]);
                }
                else if (start >= 0 && start + taps <= n)
                {
                    int s = (int)start;
                    float a0 = 0f, a1 = 0f, a2 = 0f, a3 = 0f;
                    for (int j = 0; j < taps; j += 4)
                    {
                        a0 += w[j] * y[s + j];
                        a1 += w[j + 1] * y[s + j + 1];
                        a2 += w[j + 2] * y[s + j + 2];
                        a3 += w[j + 3] * y[s + j + 3];
                    }
                    acc = (a0 + a1) + (a2 + a3);
                }
                else
                {
                    for (int j = 0; j < taps; j++)
                    {
                        long idx = start + j;
                        if (idx >= 0 && idx < n) acc += w[j] * y[idx];
                    }
                }
                outY[k] = (float)acc;
                if (--untilReport == 0)
                {
                    untilReport = report;
                    if (progress != null) progress((float)k / nOut);
                }
            }
            return outY;
        }
    }
}
