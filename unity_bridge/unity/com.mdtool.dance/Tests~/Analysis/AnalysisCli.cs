// Command-line harness for the C# analysis (tests and benchmarks, run under mono):
//   AnalysisCli.exe PCM.f32 SR OUT.json [LOGMEL.f32]   raw little-endian float32 mono PCM in;
//       the analysis as JSON out (and the log-mel, 128 x T row-major float32)
//   AnalysisCli.exe --bench PCM.f32 SR REPEATS          JSON timings (best wall and CPU, each run, s),
//       peak working set and managed heap
//   AnalysisCli.exe --filterbanks SR OUT.f32            the mel, chroma and bass chroma filterbanks
// On an AnalysisException it prints "AnalysisException: message" to stderr and exits 3.
using System;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using System.Text;
using MdTool.Dance.Analysis;

public static class AnalysisCli
{
    static float[] ReadPcm(string path)
    {
        byte[] bytes = File.ReadAllBytes(path);
        var y = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, y, 0, y.Length * 4);
        return y;
    }

    static string D(double v) { return v.ToString("R", CultureInfo.InvariantCulture); }

    static string Arr(double[] a)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < a.Length; i++) { if (i > 0) sb.Append(','); sb.Append(D(a[i])); }
        return sb.Append(']').ToString();
    }

    static string Arr(float[] a)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < a.Length; i++) { if (i > 0) sb.Append(','); sb.Append(D(a[i])); }
        return sb.Append(']').ToString();
    }

    static string Arr(int[] a)
    {
        var sb = new StringBuilder("[");
        for (int i = 0; i < a.Length; i++) { if (i > 0) sb.Append(','); sb.Append(a[i]); }
        return sb.Append(']').ToString();
    }

    static string ToJson(MusicAnalysis a, double seconds)
    {
        var sb = new StringBuilder("{");
        sb.Append("\"duration_s\":").Append(D(a.DurationS));
        sb.Append(",\"sr_hz\":").Append(a.SampleRateHz).Append(",\"hop_length\":").Append(a.HopLength);
        sb.Append(",\"tempo_bpm\":").Append(D(a.TempoBpm)).Append(",\"meter\":").Append(a.Meter);
        sb.Append(",\"pulse_clarity\":").Append(D(a.PulseClarity));
        sb.Append(",\"beat_times_s\":").Append(Arr(a.BeatTimesS));
        sb.Append(",\"beat_positions\":").Append(Arr(a.BeatPositions));
        sb.Append(",\"downbeat_times_s\":").Append(Arr(a.DownbeatTimesS));
        sb.Append(",\"onset_times_s\":").Append(Arr(a.OnsetTimesS));
        sb.Append(",\"onset_env\":").Append(Arr(a.OnsetEnv));
        sb.Append(",\"rhythm\":").Append(Arr(a.Rhythm));
        sb.Append(",\"melody_hz\":").Append(Arr(a.MelodyHz));
        sb.Append(",\"n_frames\":").Append(a.NFrames).Append(",\"seconds\":").Append(D(seconds));
        sb.Append(",\"sections\":[");
        for (int i = 0; i < a.Sections.Length; i++)
        {
            var s = a.Sections[i];
            if (i > 0) sb.Append(',');
            sb.Append("{\"index\":").Append(s.Index).Append(",\"start_s\":").Append(D(s.StartS))
              .Append(",\"end_s\":").Append(D(s.EndS)).Append(",\"label\":\"").Append(s.Label)
              .Append("\",\"n_bars\":").Append(s.NBars).Append('}');
        }
        sb.Append("],\"phrases\":[");
        for (int i = 0; i < a.Phrases.Length; i++)
        {
            var p = a.Phrases[i];
            if (i > 0) sb.Append(',');
            sb.Append("{\"index\":").Append(p.Index).Append(",\"start_s\":").Append(D(p.StartS))
              .Append(",\"end_s\":").Append(D(p.EndS)).Append(",\"n_bars\":").Append(p.NBars)
              .Append(",\"section\":").Append(p.Section).Append(",\"section_label\":\"").Append(p.SectionLabel)
              .Append("\",\"beat_times_s\":").Append(Arr(p.BeatTimesS)).Append(",\"counts\":").Append(Arr(p.Counts))
              .Append(",\"loudness_db\":").Append(D(p.LoudnessDb)).Append(",\"energy\":").Append(D(p.Energy))
              .Append(",\"onset_density_per_s\":").Append(D(p.OnsetDensityPerS))
              .Append(",\"centroid_hz\":").Append(D(p.CentroidHz)).Append(",\"tempo_bpm\":").Append(D(p.TempoBpm))
              .Append(",\"break_score\":").Append(D(p.BreakScore)).Append('}');
        }
        return sb.Append("]}").ToString();
    }

    public static int Main(string[] args)
    {
        var analyzer = new MusicAnalyzer();
        try
        {
            if (args.Length >= 1 && args[0] == "--filterbanks")
            {
                // the mel and chroma filterbanks at a rate, float32 row-major: mel (128 x 1025),
                // chroma (12 x 1025), bass chroma (12 x 1025)
                int sr = int.Parse(args[1], CultureInfo.InvariantCulture);
                float[][,] banks = {
                    SpectralFeatures.MelFilterbank(sr, SpectralFeatures.NFft, SpectralFeatures.NMels),
                    SpectralFeatures.ChromaFilterbank(sr, SpectralFeatures.NFft, 55.0, 4000.0),
                    SpectralFeatures.ChromaFilterbank(sr, SpectralFeatures.NFft, 30.0, 250.0),
                };
                using (var file = File.Create(args[2]))
                    foreach (float[,] bank in banks)
                    {
                        var bytes = new byte[bank.Length * 4];
                        Buffer.BlockCopy(bank, 0, bytes, 0, bytes.Length);
                        file.Write(bytes, 0, bytes.Length);
                    }
                return 0;
            }
            if (args.Length >= 1 && args[0] == "--bench")
            {
                float[] pcm = ReadPcm(args[1]);
                int sr = int.Parse(args[2], CultureInfo.InvariantCulture);
                int repeats = int.Parse(args[3], CultureInfo.InvariantCulture);
                var times = new double[repeats];
                double best = double.PositiveInfinity, bestCpu = double.PositiveInfinity;
                Process self = Process.GetCurrentProcess();
                long heap = 0;
                for (int r = 0; r < repeats; r++)
                {
                    self.Refresh();
                    TimeSpan cpu0 = self.TotalProcessorTime;
                    var sw = Stopwatch.StartNew();
                    MusicAnalysis a = analyzer.Analyze(pcm, sr, null);
                    times[r] = sw.Elapsed.TotalSeconds;
                    self.Refresh();
                    bestCpu = Math.Min(bestCpu, (self.TotalProcessorTime - cpu0).TotalSeconds);
                    best = Math.Min(best, times[r]);
                    heap = Math.Max(heap, GC.GetTotalMemory(false));
                    GC.KeepAlive(a);
                }
                long peak = Process.GetCurrentProcess().PeakWorkingSet64;
                Console.WriteLine("{\"best_s\":" + D(best) + ",\"best_cpu_s\":" + D(bestCpu) + ",\"runs_s\":" + Arr(times) + ",\"peak_working_set_mb\":"
                                  + D(peak / 1048576.0) + ",\"managed_heap_mb\":" + D(heap / 1048576.0)
                                  + ",\"pcm_mb\":" + D(pcm.Length * 4 / 1048576.0) + "}");
                return 0;
            }
            float[] y = ReadPcm(args[0]);
            int rate = int.Parse(args[1], CultureInfo.InvariantCulture);
            float last = -1f;
            bool monotone = true;
            var watch = Stopwatch.StartNew();
            MusicAnalysis result = analyzer.Analyze(y, rate, p => { if (p < last || p < 0 || p > 1) monotone = false; last = p; });
            double seconds = watch.Elapsed.TotalSeconds;
            if (!monotone || last != 1f) { Console.Error.WriteLine("progress was not monotone in 0..1 ending at 1"); return 2; }
            File.WriteAllText(args[2], ToJson(result, seconds));
            if (args.Length > 3)
            {
                int rows = result.LogMelDb.GetLength(0), cols = result.LogMelDb.GetLength(1);
                var bytes = new byte[rows * cols * 4];
                Buffer.BlockCopy(result.LogMelDb, 0, bytes, 0, bytes.Length);
                File.WriteAllBytes(args[3], bytes);
            }
            return 0;
        }
        catch (AnalysisException error)
        {
            Console.Error.WriteLine("AnalysisException: " + error.Message);
            return 3;
        }
    }
}
