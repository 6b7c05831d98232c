// Command-line driver of the in-engine choreographer for the parity tests and the benchmark
// (tests/test_unity_choreograph.py, benchmarks/bench_unity_choreograph.py):
//   choreograph LIBRARY.mdlb ANALYSIS.mdan OUT.timeline.json [--bundle] [--seed N] [--style S]
//     (or PCM.f32 [--sr HZ] instead of ANALYSIS.mdan: raw float32 mono PCM, analysed by the C#
//     MusicAnalyzer: the whole in-engine path)
//   check LIBRARY.mdlb ANALYSIS.mdan          (prints the exception type and message, exit 3)
//   bench LIBRARY.mdlb ANALYSIS.mdan|PCM.f32 [--sr HZ] [--bundle] (timings JSON; with PCM the C#
//     analysis is timed too)
//   render LIBRARY.mdlb ANALYSIS.mdan PREFIX [--bundle] [--seed N] [--simple]  (PREFIX.timeline.json, the
//     rendered track's frames PREFIX.frames.f32 and poses sampled every 13.7 ms PREFIX.samples.f32)
//   edit LIBRARY.mdlb ANALYSIS.mdan PREFIX SLOT [--bundle]  (PREFIX.alternatives.json, then the
//     slot replaced by the second alternative: PREFIX.timeline.json and PREFIX.frames.f32)
//   inputs LIBRARY.mdlb ANALYSIS.mdan OUT.f32  (the model input of every slot, [N, 128, 128])
//   director LIBRARY.mdlb ANALYSIS.mdan OUT.timeline.json [--bundle]  (InEngineChoreography.RunAsync
//     with the analysis injected as the IMusicAnalyzer: progress, worker thread)
using System;
using System.Collections.Generic;
using System.Diagnostics;
using System.Globalization;
using System.IO;
using MdTool.Dance;
using MdTool.Dance.Analysis;
using MdTool.Dance.Choreography;

static class ChoreographyRunner
{
    static int Main(string[] args)
    {
        System.Threading.Thread.CurrentThread.CurrentCulture = CultureInfo.InvariantCulture;
        try
        {
            switch (args[0])
            {
                case "choreograph": return Choreograph(args);
                case "check": return CheckOnly(args);
                case "bench": return Bench(args);
                case "director": return Director(args);
                case "render": return Render(args);
                case "edit": return Edit(args);
                case "inputs": return Inputs(args);
            }
            Console.Error.WriteLine("unknown command " + args[0]);
            return 2;
        }
        catch (DanceFormatException e)
        {
            Console.WriteLine(e.GetType().Name + ": " + e.Message);
            return 3;
        }
        catch (OnnxRuntimeException e)
        {
            Console.WriteLine(e.GetType().Name + ": " + e.Message);
            return 3;
        }
    }

    static string Option(string[] args, string name, string fallback)
    {
        int i = Array.IndexOf(args, name);
        return i >= 0 && i + 1 < args.Length ? args[i + 1] : fallback;
    }

    static double Cpu() { return Process.GetCurrentProcess().TotalProcessorTime.TotalSeconds; }

    /// <summary>A scorer that adds the process CPU seconds its scoring takes (the shared
    /// machine's wall clock counts other processes' time too).</summary>
    sealed class CpuTimedScorer : IPhraseScorer
    {
        public IPhraseScorer Inner;
        public double CpuS;

        public double[,] Score(IList<TimelineSlot> slots, int[] rows)
        {
            double start = Cpu();
            var result = Inner.Score(slots, rows);
            CpuS += Cpu() - start;
            return result;
        }
    }

    static CpuTimedScorer timedScorer;

    static DanceTimeline Run(LibraryAsset library, MusicAnalysis analysis, string[] args, out Choreographer choreographer, out IProbabilityModel model)
    {
        choreographer = new Choreographer(library) { Seed = long.Parse(Option(args, "--seed", "0")), Style = Option(args, "--style", null) };
        model = null;
        IPhraseScorer scorer = null;
        if (Array.IndexOf(args, "--bundle") >= 0)
        {
            model = new OrtProbabilityModel(library.ProbabilitiesOnnx, library.BundleNumClasses);
            scorer = new BundleScorer(library, analysis, model);
        }
        timedScorer = new CpuTimedScorer { Inner = scorer ?? new FeatureScorer(library) };
        return choreographer.Choreograph(analysis, timedScorer, Option(args, "--song", null));
    }

    /// <summary>The song's analysis: a Python analysis asset (.mdan), or raw float32 mono PCM
    /// (.f32, rate from --sr, default 22050) analysed here by the C# MusicAnalyzer.</summary>
    static MusicAnalysis LoadAnalysis(string path, string[] args)
    {
        if (!path.EndsWith(".f32", StringComparison.Ordinal)) return MusicAnalysisFile.Read(path);
        byte[] bytes = File.ReadAllBytes(path);
        var pcm = new float[bytes.Length / 4];
        Buffer.BlockCopy(bytes, 0, pcm, 0, pcm.Length * 4);
        return new MusicAnalyzer().Analyze(pcm, int.Parse(Option(args, "--sr", "22050")), null);
    }

    static int Choreograph(string[] args)
    {
        var library = LibraryAsset.Load(args[1]);
        var analysis = LoadAnalysis(args[2], args);
        Choreographer choreographer;
        IProbabilityModel model;
        var timeline = Run(library, analysis, args, out choreographer, out model);
        if (model != null) model.Dispose();
        File.WriteAllText(args[3], timeline.ToJson());
        Console.WriteLine(timeline.Slots.Count + " slots, style " + timeline.Style);
        return 0;
    }

    static int CheckOnly(string[] args)
    {
        var library = LibraryAsset.Load(args[1]);
        var analysis = MusicAnalysisFile.Read(args[2]);
        Choreographer choreographer;
        IProbabilityModel model;
        Run(library, analysis, args, out choreographer, out model);
        Console.WriteLine("no exception");
        return 0;
    }

    /// <summary>An IMusicAnalyzer that returns an analysis Python wrote (until the C#
    /// analyzer is wired in, the tests inject the Python analysis this way).</summary>
    sealed class PrecomputedAnalyzer : IMusicAnalyzer
    {
        public MusicAnalysis Analysis;
        public int Thread;

        public MusicAnalysis Analyze(float[] monoPcm, int sampleRateHz, Action<float> progress)
        {
            Thread = System.Threading.Thread.CurrentThread.ManagedThreadId;
            progress(1f);
            return Analysis;
        }
    }

    static int Director(string[] args)
    {
        var library = LibraryAsset.Load(args[1]);
        var analyzer = new PrecomputedAnalyzer { Analysis = MusicAnalysisFile.Read(args[2]) };
        var pipeline = new InEngineChoreography(library, analyzer) { Seed = long.Parse(Option(args, "--seed", "0")) };
        if (Array.IndexOf(args, "--bundle") >= 0) pipeline.Model = new OrtProbabilityModel(library.ProbabilitiesOnnx, library.BundleNumClasses);
        var seen = new List<float>();
        var pcm = new float[(int)(analyzer.Analysis.DurationS * 22050)];
        var task = pipeline.RunAsync(pcm, 22050, "song", p => { lock (seen) seen.Add(p); });
        var timeline = task.Result;
        if (pipeline.Model != null) pipeline.Model.Dispose();
        var track = pipeline.RenderAsync(timeline).Result;
        File.WriteAllText(args[3], timeline.ToJson());
        bool monotonic = true;
        for (int i = 1; i < seen.Count; i++) monotonic &= seen[i] >= seen[i - 1];
        Console.WriteLine("{\"worker_thread\": " + (analyzer.Thread != System.Threading.Thread.CurrentThread.ManagedThreadId ? "true" : "false")
                          + ", \"progress\": [" + string.Join(", ", seen.ConvertAll(v => v.ToString("R")).ToArray()) + "]"
                          + ", \"monotonic\": " + (monotonic ? "true" : "false") + ", \"frames\": " + track.NumFrames
                          + ", \"expected_frames\": " + ((int)Math.Floor(timeline.DurationS * timeline.Fps + 1e-6) + 1) + "}");
        return 0;
    }

    static void WriteFloats(string path, List<float> values)
    {
        var bytes = new byte[values.Count * 4];
        Buffer.BlockCopy(values.ToArray(), 0, bytes, 0, bytes.Length);
        File.WriteAllBytes(path, bytes);
    }

    static int Inputs(string[] args)
    {
        var analysis = MusicAnalysisFile.Read(args[2]);
        var slots = SlotPlanner.Plan(analysis);
        int size = ModelInput.Size * ModelInput.Size;
        var mel = new float[slots.Count * size];
        float refDb = ModelInput.MaxDb(analysis);
        for (int i = 0; i < slots.Count; i++) ModelInput.Span(analysis, slots[i].StartS, slots[i].EndS, refDb, mel, i * size);
        WriteFloats(args[3], new List<float>(mel));
        Console.WriteLine(slots.Count + " slots");
        return 0;
    }

    static int Edit(string[] args)
    {
        var library = LibraryAsset.Load(args[1]);
        var analysis = MusicAnalysisFile.Read(args[2]);
        int slot = int.Parse(args[4]);
        Choreographer choreographer;
        IProbabilityModel model;
        var timeline = Run(library, analysis, args, out choreographer, out model);
        if (model != null) model.Dispose();
        File.WriteAllText(args[3] + ".original.json", timeline.ToJson());
        var ranked = TimelineEditing.Alternatives(timeline, library, slot, 10);
        var rows = new List<object>();
        foreach (var r in ranked)
            rows.Add(new Dictionary<string, object> { { "phrase_id", r.PhraseId }, { "score", r.Score }, { "emission", r.Emission },
                                                      { "prior_in", r.PriorIn }, { "prior_out", r.PriorOut }, { "current", r.Current } });
        File.WriteAllText(args[3] + ".alternatives.json", MiniJson.Serialize(rows));
        string chosen = ranked[0].Current ? ranked[1].PhraseId : ranked[0].PhraseId;
        var edited = TimelineEditing.Replace(timeline, library, slot, chosen);
        File.WriteAllText(args[3] + ".timeline.json", edited.ToJson());
        var track = TimelineRenderer.Render(edited, library);
        var frames = new List<float>();
        for (int t = 0; t < track.NumFrames; t++)
        {
            for (int c = 0; c < 3; c++) frames.Add(track.Roots[t * 3 + c]);
            for (int c = 0; c < track.NumJoints * 4; c++) frames.Add(track.Rotations[t * track.NumJoints * 4 + c]);
        }
        WriteFloats(args[3] + ".frames.f32", frames);
        Console.WriteLine("slot " + slot + " -> " + chosen);
        return 0;
    }

    static int Render(string[] args)
    {
        var library = LibraryAsset.Load(args[1]);
        var analysis = MusicAnalysisFile.Read(args[2]);
        Choreographer choreographer;
        IProbabilityModel model;
        var timeline = Run(library, analysis, args, out choreographer, out model);
        if (model != null) model.Dispose();
        var track = Array.IndexOf(args, "--simple") >= 0 ? TimelineRenderer.RenderSimple(timeline, library)
                                                          : TimelineRenderer.Render(timeline, library);
        File.WriteAllText(args[3] + ".timeline.json", timeline.ToJson());
        var frames = new List<float>();
        for (int t = 0; t < track.NumFrames; t++)
        {
            for (int c = 0; c < 3; c++) frames.Add(track.Roots[t * 3 + c]);
            for (int c = 0; c < track.NumJoints * 4; c++) frames.Add(track.Rotations[t * track.NumJoints * 4 + c]);
        }
        WriteFloats(args[3] + ".frames.f32", frames);
        var sampler = new PoseSampler(track);
        var pose = sampler.NewPose();
        var samples = new List<float>();
        for (double time = 0; time < track.DurationS; time += 0.0137)
        {
            sampler.Sample(time, pose);
            samples.AddRange(pose.Root);
            samples.AddRange(pose.Rotations);
        }
        WriteFloats(args[3] + ".samples.f32", samples);
        Console.WriteLine(track.NumFrames + " frames, " + track.NumJoints + " joints");
        return 0;
    }

    static int Bench(string[] args)
    {
        var clock = Stopwatch.StartNew();
        var library = LibraryAsset.Load(args[1]);
        double loadS = clock.Elapsed.TotalSeconds;
        clock.Restart();
        double analysisCpu = Cpu();
        var analysis = LoadAnalysis(args[2], args);  // PCM: the C# analysis, timed
        double analysisS = clock.Elapsed.TotalSeconds, analysisCpuS = Cpu() - analysisCpu;
        long before = GC.GetTotalMemory(true);
        clock.Restart();
        Choreographer choreographer;
        IProbabilityModel model;
        double cpu = Cpu();
        var timeline = Run(library, analysis, args, out choreographer, out model);
        double totalS = clock.Elapsed.TotalSeconds, choreographCpuS = Cpu() - cpu;
        clock.Restart();
        cpu = Cpu();
        var track = TimelineRenderer.Render(timeline, library);
        double renderS = clock.Elapsed.TotalSeconds, renderCpuS = Cpu() - cpu;
        clock.Restart();
        TimelineRenderer.RenderSimple(timeline, library);
        double simpleS = clock.Elapsed.TotalSeconds;
        clock.Restart();
        TimelineRenderer.Render(timeline, library);  // again: an edit's re-render (continuations known)
        double againS = clock.Elapsed.TotalSeconds;
        // pose sampling of the first slot's phrase: bytes allocated per sample (zero expected)
        var sampler = new PoseSampler(track);
        var pose = sampler.NewPose();
        const int samples = 200000;
        for (int i = 0; i < 1000; i++) sampler.Sample(i * 0.001, pose);  // JIT warm-up
        var sampling = new Stopwatch();
        long allocated = GC.GetAllocatedBytesForCurrentThread();
        sampling.Start();
        for (int i = 0; i < samples; i++) sampler.Sample((i % 240000) / 1000.0, pose);
        sampling.Stop();
        long perSample = GC.GetAllocatedBytesForCurrentThread() - allocated;
        double sampleS = sampling.Elapsed.TotalSeconds;
        var t = choreographer.Timings;
        Console.WriteLine("{\"load_s\": " + loadS.ToString("R") + ", \"analysis_s\": " + analysisS.ToString("R")
                          + ", \"analysis_cpu_s\": " + analysisCpuS.ToString("R") + ", \"choreograph_s\": " + totalS.ToString("R")
                          + ", \"scoring_s\": " + t.ScoringS.ToString("R") + ", \"transitions_s\": " + t.TransitionsS.ToString("R")
                          + ", \"decoding_s\": " + t.DecodingS.ToString("R")
                          + ", \"scoring_cpu_s\": " + timedScorer.CpuS.ToString("R") + ", \"choreograph_cpu_s\": " + choreographCpuS.ToString("R")
                          + ", \"render_cpu_s\": " + renderCpuS.ToString("R")
                          + ", \"render_s\": " + renderS.ToString("R") + ", \"render_simple_s\": " + simpleS.ToString("R") + ", \"render_again_s\": " + againS.ToString("R") + ", \"frames\": " + track.NumFrames + ", \"slots\": " + timeline.Slots.Count
                          + ", \"managed_bytes\": " + (GC.GetTotalMemory(false) - before)
                          + ", \"model_s\": " + (timedScorer.Inner is BundleScorer ? ((BundleScorer)timedScorer.Inner).ModelSeconds : 0.0).ToString("R")
                          + ", \"sampling_allocated_bytes\": " + perSample + ", \"samples\": " + samples
                          + ", \"poses_per_s\": " + (samples / sampleS).ToString("R")
                          + ", \"peak_working_set_bytes\": " + Process.GetCurrentProcess().PeakWorkingSet64 + "}");
        if (model != null) model.Dispose();
        return 0;
    }
}
