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
        readonly double[] _cos, _sin;        // twiddles of the half-size complex FFT
        readonly double[] _splitCos, _splitSin;
        readonly double[] _re, _im;

        public RealFft(int n)
        {
            if (n < 4 || (n & (n - 1)) != 0) throw new ArgumentException("FFT size must be a power of two >= 4");
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
            _cos = new double[_half / 2]; _sin = new double[_half / 2];
            for (int i = 0; i < _half / 2; i++)
            {
                _cos[i] = Math.Cos(2 * Math.PI * i / _half);
                _sin[i] = -Math.Sin(2 * Math.PI * i / _half);
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
            for (int size = 2; size <= m; size <<= 1)
            {
                int halfSize = size >> 1, step = m / size;
                for (int start = 0; start < m; start += size)
                {
                    for (int k = 0, t = 0; k < halfSize; k++, t += step)
                    {
                        int a = start + k, b = a + halfSize;
                        double wr = _cos[t], wi = _sin[t];
                        double br = _re[b] * wr - _im[b] * wi, bi = _re[b] * wi + _im[b] * wr;
                        _re[b] = _re[a] - br; _im[b] = _im[a] - bi;
                        _re[a] += br; _im[a] += bi;
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
