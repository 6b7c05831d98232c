// Real FFT of a power-of-two length (double precision): one complex FFT of half the length and a
// split step. Used for the analysis STFT (2048 points per frame).
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
            for (int h = 4; h < m; h <<= 1)
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
