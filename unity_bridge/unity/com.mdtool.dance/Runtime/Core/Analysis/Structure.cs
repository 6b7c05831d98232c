// Sections by Laplacian segmentation over bars: the port of musicdance.audio.structure (bar
// features, mutual k-NN recurrence + sequence affinity, symmetric normalised Laplacian,
// eigen-gap, k-means with numpy's seeded generator, short-section merging, boundary refinement).
using System;
using System.Collections.Generic;

namespace MdTool.Dance.Analysis
{
    /// <summary>Sections over bars: cluster per bar, first/after-last bar and letter per section.</summary>
    public sealed class Segmentation
    {
        public int[] BarLabels;
        public int[] Starts, Stops;
        public string[] Labels;
    }

    public static class Structure
    {
        public const int MaxStructureBars = 1024;

        /// <summary>Mean chroma, bass chroma and 13 mel-cepstral coefficients per bar, each group
        /// standardised; [n_bars, 37].</summary>
        public static double[][] BarFeatures(int[] barFrames, SpectralFeatures f, int nCeps = 13)
        {
            int nMels = f.LogMelDb.GetLength(0), nFrames = f.NFrames, nBars = barFrames.Length - 1;
            var starts = new int[nBars];
            for (int i = 0; i < nBars; i++) starts[i] = Math.Min(barFrames[i], nFrames - 1);
            int stop = Math.Min(Math.Max(barFrames[nBars], starts[nBars - 1] + 1), nFrames);
            var widths = new int[nBars];
            for (int i = 0; i < nBars; i++) widths[i] = Math.Max((i + 1 < nBars ? starts[i + 1] : stop) - starts[i], 1);
            var groups = new double[3][][];
            float[][,] mats = { f.Chroma, f.ChromaBass, f.LogMelDb };
            for (int g = 0; g < 3; g++)
            {
                float[,] mat = mats[g];
                int rows = mat.GetLength(0);
                var means = new double[nBars][];
                for (int i = 0; i < nBars; i++)
                {
                    means[i] = new double[rows];
                    // numpy.add.reduceat: [starts[i], next) or the single column when next <= start
                    int s = starts[i], e = i + 1 < nBars ? starts[i + 1] : stop;
                    if (e <= s) e = s + 1;
                    for (int r = 0; r < rows; r++)
                    {
                        double acc = 0;
                        for (int t = s; t < e; t++) acc += mat[r, t];
                        means[i][r] = acc / widths[i];
                    }
                }
                groups[g] = means;
            }
            // DCT-II of the mean log-mel
            var dct = new double[nCeps, nMels];
            for (int k = 0; k < nCeps; k++)
                for (int m = 0; m < nMels; m++) dct[k, m] = Math.Cos(Math.PI * k * (m + 0.5) / nMels);
            var ceps = new double[nBars][];
            for (int i = 0; i < nBars; i++)
            {
                ceps[i] = new double[nCeps];
                for (int k = 0; k < nCeps; k++)
                {
                    double acc = 0;
                    for (int m = 0; m < nMels; m++) acc += groups[2][i][m] * dct[k, m];
                    ceps[i][k] = acc / nMels;
                }
            }
            groups[2] = ceps;
            int dim = 0;
            foreach (var g in groups) dim += g[0].Length;
            var outF = new double[nBars][];
            for (int i = 0; i < nBars; i++) outF[i] = new double[dim];
            int col = 0;
            foreach (var g in groups)
            {
                int d = g[0].Length;
                var mean = new double[d];
                for (int i = 0; i < nBars; i++) for (int j = 0; j < d; j++) mean[j] += g[i][j];
                for (int j = 0; j < d; j++) mean[j] /= nBars;
                double ss = 0;
                for (int i = 0; i < nBars; i++)
                {
                    double row = 0;
                    for (int j = 0; j < d; j++) { double v = g[i][j] - mean[j]; row += v * v; }
                    ss += row;
                }
                double scale = Math.Sqrt(ss / nBars);
                for (int i = 0; i < nBars; i++)
                    for (int j = 0; j < d; j++)
                    {
                        double v = g[i][j] - mean[j];
                        outF[i][col + j] = scale > 1e-9 ? v / scale : v;
                    }
                col += d;
            }
            return outF;
        }

        static double SqDist(double[] a, double[] b)
        {
            double acc = 0;
            for (int j = 0; j < a.Length; j++) { double v = a[j] - b[j]; acc += v * v; }
            return acc;
        }

        /// <summary>Plain Lloyd k-means with k-means++ seeding (numpy's draws); labels per row.</summary>
        public static int[] KMeans(double[][] x, int k, int seed, int nInit = 8, int nIter = 50)
        {
            var rng = new NumpyRandom(seed);
            int n = x.Length, d = x[0].Length;
            int[] bestLabels = new int[n];
            double bestInertia = double.PositiveInfinity;
            var dist = new double[n];
            for (int init = 0; init < nInit; init++)
            {
                var centres = new double[k][];
                centres[0] = (double[])x[rng.Integers(n)].Clone();
                for (int c = 1; c < k; c++)
                {
                    double total = 0;
                    for (int i = 0; i < n; i++)
                    {
                        double m = double.PositiveInfinity;
                        for (int j = 0; j < c; j++) m = Math.Min(m, SqDist(x[i], centres[j]));
                        dist[i] = m; total += m;
                    }
                    var p = new double[n];
                    for (int i = 0; i < n; i++) p[i] = total > 0 ? dist[i] / total : 1.0 / n;
                    centres[c] = (double[])x[rng.Choice(p)].Clone();
                }
                var labels = new int[n];
                for (int it = 0; it < nIter; it++)
                {
                    for (int i = 0; i < n; i++)
                    {
                        int arg = 0;
                        double best = double.PositiveInfinity;
                        for (int j = 0; j < k; j++)
                        {
                            double v = SqDist(x[i], centres[j]);
                            if (v < best) { best = v; arg = j; }
                        }
                        labels[i] = arg;
                    }
                    var fresh = new double[k][];
                    bool close = true;
                    for (int j = 0; j < k; j++)
                    {
                        var sum = new double[d];
                        int count = 0;
                        for (int i = 0; i < n; i++)
                            if (labels[i] == j) { count++; for (int q = 0; q < d; q++) sum[q] += x[i][q]; }
                        if (count == 0) fresh[j] = centres[j];
                        else { for (int q = 0; q < d; q++) sum[q] /= count; fresh[j] = sum; }
                        for (int q = 0; q < d; q++)
                            if (!(Math.Abs(fresh[j][q] - centres[j][q]) <= 1e-8 + 1e-5 * Math.Abs(centres[j][q]))) close = false;
                    }
                    if (close) break;
                    centres = fresh;
                }
                double inertia = 0;
                for (int i = 0; i < n; i++) inertia += SqDist(x[i], centres[labels[i]]);
                if (inertia < bestInertia) { bestInertia = inertia; bestLabels = labels; }
            }
            return bestLabels;
        }

        /// <summary>Laplacian segmentation of a bar sequence (segment_bars).</summary>
        public static Segmentation SegmentBars(double[][] feats, int maxSections, int minBars, int nStack,
                                               int minLabels, int seed)
        {
            int n = feats.Length;
            if (n > MaxStructureBars) return SegmentWindows(feats, maxSections, minBars, nStack, minLabels, seed);
            if (n < 4) return FromLabels(new int[n], feats, minBars);
            int d = feats[0].Length;
            var stacked = new double[n][];
            for (int i = 0; i < n; i++)
            {
                stacked[i] = new double[d * nStack];
                for (int j = 0; j < nStack; j++)
                {
                    double[] src = feats[Math.Min(i + j, n - 1)];
                    Array.Copy(src, 0, stacked[i], j * d, d);
                }
            }
            var sq = new double[n];
            for (int i = 0; i < n; i++) { double a = 0; foreach (double v in stacked[i]) a += v * v; sq[i] = a; }
            var d2 = new double[n, n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    double dot = 0;
                    double[] a = stacked[i], b = stacked[j];
                    for (int q = 0; q < a.Length; q++) dot += a[q] * b[q];
                    d2[i, j] = Math.Max(sq[i] + sq[j] - 2.0 * dot, 0.0);
                }
            int knn = Math.Max(2, (int)Math.Ceiling(Math.Sqrt(n) / 2));
            var near = new bool[n, n];
            var order = new int[n];
            var key = new double[n];
            for (int i = 0; i < n; i++)
            {
                for (int j = 0; j < n; j++) { order[j] = j; key[j] = i == j ? double.PositiveInfinity : d2[i, j]; }
                Array.Sort((double[])key.Clone(), order);
                StableFix(order, key);
                for (int r = 0; r < knn; r++) near[i, order[r]] = true;
            }
            var medVals = new List<double>();
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++)
                {
                    bool v = near[i, j] && near[j, i] && Math.Abs(i - j) > 1;
                    if (v) medVals.Add(d2[i, j]);
                }
            var mutual = new bool[n, n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) mutual[i, j] = near[i, j] && near[j, i] && Math.Abs(i - j) > 1;
            double sigma;
            if (medVals.Count > 0) sigma = Stats.Median(medVals.ToArray());
            else
            {
                var all = new double[n * n];
                for (int i = 0; i < n; i++) for (int j = 0; j < n; j++) all[i * n + j] = d2[i, j];
                sigma = Stats.Median(all);
            }
            var rec = new double[n, n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) rec[i, j] = mutual[i, j] ? Math.Exp(-d2[i, j] / Math.Max(sigma, 1e-9)) : 0.0;
            var seqD2 = new double[n - 1];
            for (int i = 0; i < n - 1; i++) seqD2[i] = SqDist(feats[i + 1], feats[i]);
            double seqMed = Math.Max(Stats.Median(seqD2), 1e-9);
            var path = new double[n, n];
            for (int i = 0; i < n - 1; i++)
            {
                double w = Math.Exp(-seqD2[i] / seqMed);
                path[i, i + 1] = w; path[i + 1, i] = w;
            }
            var degPath = new double[n];
            var degRec = new double[n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) { degPath[i] += path[i, j]; degRec[i] += rec[i, j]; }
            double num = 0, den = 0;
            for (int i = 0; i < n; i++)
            {
                num += degPath[i] * (degPath[i] + degRec[i]);
                den += (degPath[i] + degRec[i]) * (degPath[i] + degRec[i]);
            }
            double mu = num / Math.Max(den, 1e-9);
            var aff = new double[n, n];
            var deg = new double[n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) { aff[i, j] = mu * rec[i, j] + (1 - mu) * path[i, j]; deg[i] += aff[i, j]; }
            var inv = new double[n];
            for (int i = 0; i < n; i++) inv[i] = 1.0 / Math.Sqrt(Math.Max(deg[i], 1e-9));
            var lap = new double[n, n];
            for (int i = 0; i < n; i++)
                for (int j = 0; j < n; j++) lap[i, j] = (i == j ? 1.0 : 0.0) - inv[i] * aff[i, j] * inv[j];
            double[] evals;
            double[,] evecs;
            SymmetricEigen.Solve(lap, out evals, out evecs);
            int kMax = Math.Min(maxSections, Math.Max(2, n / 4));
            int kMin = Math.Min(minLabels, kMax);
            int k = kMin;
            double bestGap = double.NegativeInfinity;
            for (int i = kMin - 1; i < kMax && i + 1 < evals.Length; i++)
            {
                double gap = evals[i + 1] - evals[i];
                if (gap > bestGap) { bestGap = gap; k = i + 1; }
            }
            var emb = new double[n][];
            for (int i = 0; i < n; i++)
            {
                emb[i] = new double[k];
                double norm = 0;
                for (int j = 0; j < k; j++) norm += evecs[i, j] * evecs[i, j];
                norm = Math.Max(Math.Sqrt(norm), 1e-9);
                for (int j = 0; j < k; j++) emb[i][j] = evecs[i, j] / norm;
            }
            int[] labels = KMeans(emb, k, seed);
            return FromLabels(labels, feats, minBars);
        }

        // Array.Sort is not stable: order equal keys by index, like a stable argsort
        static void StableFix(int[] order, double[] key)
        {
            int i = 0;
            while (i < order.Length)
            {
                int j = i + 1;
                while (j < order.Length && key[order[j]] == key[order[i]]) j++;
                if (j - i > 1) Array.Sort(order, i, j - i);
                i = j;
            }
        }

        static Segmentation SegmentWindows(double[][] feats, int maxSections, int minBars, int nStack,
                                           int minLabels, int seed)
        {
            int n = feats.Length;
            int nWindows = (n + MaxStructureBars - 1) / MaxStructureBars;
            double[] edges = SpectralFeatures.Linspace(0, n, nWindows + 1);
            var local = new int[n];
            var means = new List<double[]>();
            var counts = new List<double>();
            for (int w = 0; w < nWindows; w++)
            {
                int s = (int)Math.Round(edges[w], MidpointRounding.ToEven), e = (int)Math.Round(edges[w + 1], MidpointRounding.ToEven);
                var part = new double[e - s][];
                Array.Copy(feats, s, part, 0, e - s);
                Segmentation seg = SegmentBars(part, maxSections, minBars, nStack, minLabels, seed + w);
                var found = new SortedSet<int>(seg.BarLabels);
                counts.Add(found.Count);
                foreach (int label in found)
                {
                    var mean = new double[feats[0].Length];
                    int c = 0;
                    for (int i = 0; i < part.Length; i++)
                        if (seg.BarLabels[i] == label)
                        {
                            local[s + i] = means.Count; c++;
                            for (int q = 0; q < mean.Length; q++) mean[q] += part[i][q];
                        }
                    for (int q = 0; q < mean.Length; q++) mean[q] /= c;
                    means.Add(mean);
                }
            }
            int k = Math.Min(maxSections, Math.Min(Math.Max(Math.Max(Stats.RoundInt(Stats.Median(counts.ToArray())), minLabels), 1), means.Count));
            int[] clusterOf = KMeans(means.ToArray(), k, seed);
            var labels = new int[n];
            for (int i = 0; i < n; i++) labels[i] = clusterOf[local[i]];
            return FromLabels(labels, feats, minBars);
        }

        static void Runs(int[] labels, out int[] starts, out int[] stops)
        {
            var s = new List<int>();
            for (int i = 0; i < labels.Length; i++) if (i == 0 || labels[i] != labels[i - 1]) s.Add(i);
            starts = s.ToArray();
            stops = new int[starts.Length];
            for (int i = 0; i < starts.Length; i++) stops[i] = i + 1 < starts.Length ? starts[i + 1] : labels.Length;
        }

        static double[] MeanRows(double[][] feats, int s, int e)
        {
            var m = new double[feats[0].Length];
            for (int i = s; i < e; i++) for (int q = 0; q < m.Length; q++) m[q] += feats[i][q];
            for (int q = 0; q < m.Length; q++) m[q] /= (e - s);
            return m;
        }

        /// <summary>Sections from bar clusters, merging sections shorter than minBars into the more
        /// similar neighbour (_from_labels).</summary>
        public static Segmentation FromLabels(int[] labelsIn, double[][] feats, int minBars)
        {
            var labels = (int[])labelsIn.Clone();
            int n = labels.Length;
            int[] starts, stops;
            if (n == 0) return new Segmentation { BarLabels = labels, Starts = new int[0], Stops = new int[0], Labels = new string[0] };
            for (int iter = 0; iter < n; iter++)
            {
                Runs(labels, out starts, out stops);
                int j = -1;
                for (int r = 0; r < starts.Length; r++)
                    if (stops[r] - starts[r] < minBars && (j < 0 || stops[r] - starts[r] < stops[j] - starts[j])) j = r;
                if (j < 0 || starts.Length == 1) break;
                int s = starts[j], e = stops[j];
                double[] mean = MeanRows(feats, s, e);
                double bestD = double.PositiveInfinity;
                int bestLab = int.MaxValue;
                if (j > 0)
                {
                    double dd = SqDist(MeanRows(feats, starts[j - 1], s), mean);
                    if (dd < bestD || (dd == bestD && labels[s - 1] < bestLab)) { bestD = dd; bestLab = labels[s - 1]; }
                }
                if (j + 1 < starts.Length)
                {
                    double dd = SqDist(MeanRows(feats, e, stops[j + 1]), mean);
                    if (dd < bestD || (dd == bestD && labels[e] < bestLab)) { bestD = dd; bestLab = labels[e]; }
                }
                for (int i = s; i < e; i++) labels[i] = bestLab;
            }
            Runs(labels, out starts, out stops);
            return new Segmentation { BarLabels = labels, Starts = starts, Stops = stops, Labels = Letters(labels, starts) };
        }

        static string[] Letters(int[] labels, int[] starts)
        {
            var letters = new Dictionary<int, string>();
            var names = new string[starts.Length];
            for (int i = 0; i < starts.Length; i++)
            {
                int lab = labels[starts[i]];
                string name;
                if (!letters.TryGetValue(lab, out name)) { name = Letter(letters.Count); letters[lab] = name; }
                names[i] = name;
            }
            return names;
        }

        static string Letter(int i) { return i < 26 ? ((char)('A' + i)).ToString() : "S" + i; }

        /// <summary>Move each boundary to the bar within radius with the strongest break evidence
        /// (plus the 4-bar grid bonus), then relabel sections by majority (refine_boundaries).</summary>
        public static Segmentation RefineBoundaries(Segmentation seg, double[] evidence, int radius, int minBars,
                                                    int gridPhase, double gridBonus = 0.3)
        {
            int n = seg.BarLabels.Length;
            var bounds = new List<int> { 0 };
            for (int i = 1; i < seg.Starts.Length; i++) bounds.Add(seg.Starts[i]);
            bounds.Add(n);
            for (int i = 1; i < bounds.Count - 1; i++)
            {
                int lo = Math.Max(bounds[i - 1] + minBars, bounds[i] - radius);
                int hi = Math.Min(bounds[i + 1] - minBars, bounds[i] + radius);
                if (hi < lo) continue;
                int best = lo;
                double bestScore = double.NegativeInfinity;
                for (int c = lo; c <= hi; c++)
                {
                    int length = c - gridPhase;
                    double grid = PyMod(length, 4) == 0 ? gridBonus : PyMod(length, 2) == 0 ? gridBonus / 2 : 0.0;
                    double score = evidence[c] + grid - 0.05 * Math.Abs(c - bounds[i]);
                    if (score > bestScore) { bestScore = score; best = c; }
                }
                bounds[i] = best;
            }
            var labels = new int[n];
            int intro = -1;
            if (gridPhase >= 2 && bounds[1] - gridPhase >= minBars)
            {
                bounds.Insert(1, gridPhase);
                int mx = int.MinValue;
                foreach (int l in seg.BarLabels) mx = Math.Max(mx, l);
                intro = mx + 1;
            }
            for (int b = 0; b + 1 < bounds.Count; b++)
            {
                int s = bounds[b], e = bounds[b + 1];
                var counts = new SortedDictionary<int, int>();
                for (int i = s; i < e; i++) { int c; counts.TryGetValue(seg.BarLabels[i], out c); counts[seg.BarLabels[i]] = c + 1; }
                int lab = 0, top = -1;
                foreach (var kv in counts) if (kv.Value > top) { top = kv.Value; lab = kv.Key; }
                for (int i = s; i < e; i++) labels[i] = lab;
            }
            if (intro >= 0) for (int i = 0; i < bounds[1]; i++) labels[i] = intro;
            var starts = new int[bounds.Count - 1];
            var stops = new int[bounds.Count - 1];
            for (int b = 0; b + 1 < bounds.Count; b++) { starts[b] = bounds[b]; stops[b] = bounds[b + 1]; }
            return new Segmentation { BarLabels = labels, Starts = starts, Stops = stops, Labels = Letters(labels, starts) };
        }

        static int PyMod(int a, int b) { int r = a % b; return r < 0 ? r + b : r; }
    }

    /// <summary>Eigen-decomposition of a real symmetric matrix: Householder tridiagonalisation
    /// and the implicit QL algorithm (EISPACK tred2/tql2, as in JAMA). Eigenvalues ascending;
    /// eigenvector j is column j.</summary>
    public static class SymmetricEigen
    {
        public static void Solve(double[,] a, out double[] values, out double[,] vectors)
        {
            int n = a.GetLength(0);
            var V = (double[,])a.Clone();
            var d = new double[n];
            var e = new double[n];
            Tred2(n, V, d, e);
            Tql2(n, V, d, e);
            values = d; vectors = V;
        }

        static void Tred2(int n, double[,] V, double[] d, double[] e)
        {
            for (int j = 0; j < n; j++) d[j] = V[n - 1, j];
            for (int i = n - 1; i > 0; i--)
            {
                double scale = 0.0, h = 0.0;
                for (int k = 0; k < i; k++) scale += Math.Abs(d[k]);
                if (scale == 0.0)
                {
                    e[i] = d[i - 1];
                    for (int j = 0; j < i; j++) { d[j] = V[i - 1, j]; V[i, j] = 0.0; V[j, i] = 0.0; }
                }
                else
                {
                    for (int k = 0; k < i; k++) { d[k] /= scale; h += d[k] * d[k]; }
                    double f = d[i - 1], g = Math.Sqrt(h);
                    if (f > 0) g = -g;
                    e[i] = scale * g; h -= f * g; d[i - 1] = f - g;
                    for (int j = 0; j < i; j++) e[j] = 0.0;
                    for (int j = 0; j < i; j++)
                    {
                        f = d[j]; V[j, i] = f; g = e[j] + V[j, j] * f;
                        for (int k = j + 1; k <= i - 1; k++) { g += V[k, j] * d[k]; e[k] += V[k, j] * f; }
                        e[j] = g;
                    }
                    f = 0.0;
                    for (int j = 0; j < i; j++) { e[j] /= h; f += e[j] * d[j]; }
                    double hh = f / (h + h);
                    for (int j = 0; j < i; j++) e[j] -= hh * d[j];
                    for (int j = 0; j < i; j++)
                    {
                        f = d[j]; g = e[j];
                        for (int k = j; k <= i - 1; k++) V[k, j] -= (f * e[k] + g * d[k]);
                        d[j] = V[i - 1, j]; V[i, j] = 0.0;
                    }
                }
                d[i] = h;
            }
            for (int i = 0; i < n - 1; i++)
            {
                V[n - 1, i] = V[i, i]; V[i, i] = 1.0;
                double h = d[i + 1];
                if (h != 0.0)
                {
                    for (int k = 0; k <= i; k++) d[k] = V[k, i + 1] / h;
                    for (int j = 0; j <= i; j++)
                    {
                        double g = 0.0;
                        for (int k = 0; k <= i; k++) g += V[k, i + 1] * V[k, j];
                        for (int k = 0; k <= i; k++) V[k, j] -= g * d[k];
                    }
                }
                for (int k = 0; k <= i; k++) V[k, i + 1] = 0.0;
            }
            for (int j = 0; j < n; j++) { d[j] = V[n - 1, j]; V[n - 1, j] = 0.0; }
            V[n - 1, n - 1] = 1.0;
            e[0] = 0.0;
        }

        static double Hypot(double a, double b)
        {
            double x = Math.Abs(a), y = Math.Abs(b);
            if (x < y) { double t = x; x = y; y = t; }
            if (x == 0) return 0;
            double r = y / x;
            return x * Math.Sqrt(1 + r * r);
        }

        static void Tql2(int n, double[,] V, double[] d, double[] e)
        {
            for (int i = 1; i < n; i++) e[i - 1] = e[i];
            e[n - 1] = 0.0;
            double f = 0.0, tst1 = 0.0, eps = Math.Pow(2.0, -52.0);
            for (int l = 0; l < n; l++)
            {
                tst1 = Math.Max(tst1, Math.Abs(d[l]) + Math.Abs(e[l]));
                int m = l;
                while (m < n) { if (Math.Abs(e[m]) <= eps * tst1) break; m++; }
                if (m == n) m = n - 1;
                if (m > l)
                {
                    int iter = 0;
                    do
                    {
                        if (++iter > 100) throw new AnalysisException("the structure eigensolver did not converge");
                        double g = d[l], p = (d[l + 1] - g) / (2.0 * e[l]), r = Hypot(p, 1.0);
                        if (p < 0) r = -r;
                        d[l] = e[l] / (p + r); d[l + 1] = e[l] * (p + r);
                        double dl1 = d[l + 1], h = g - d[l];
                        for (int i = l + 2; i < n; i++) d[i] -= h;
                        f += h;
                        p = d[m];
                        double c = 1.0, c2 = c, c3 = c, el1 = e[l + 1], s = 0.0, s2 = 0.0;
                        for (int i = m - 1; i >= l; i--)
                        {
                            c3 = c2; c2 = c; s2 = s;
                            g = c * e[i]; h = c * p; r = Hypot(p, e[i]);
                            e[i + 1] = s * r; s = e[i] / r; c = p / r;
                            p = c * d[i] - s * g;
                            d[i + 1] = h + s * (c * g + s * d[i]);
                            for (int k = 0; k < n; k++)
                            {
                                h = V[k, i + 1];
                                V[k, i + 1] = s * V[k, i] + c * h;
                                V[k, i] = c * V[k, i] - s * h;
                            }
                        }
                        p = -s * s2 * c3 * el1 * e[l] / dl1;
                        e[l] = s * p; d[l] = c * p;
                    } while (Math.Abs(e[l]) > eps * tst1);
                }
                d[l] += f; e[l] = 0.0;
            }
            for (int i = 0; i < n - 1; i++)
            {
                int k = i;
                double p = d[i];
                for (int j = i + 1; j < n; j++) if (d[j] < p) { k = j; p = d[j]; }
                if (k != i)
                {
                    d[k] = d[i]; d[i] = p;
                    for (int j = 0; j < n; j++) { double t = V[j, i]; V[j, i] = V[j, k]; V[j, k] = t; }
                }
            }
        }
    }
}
