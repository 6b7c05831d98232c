// The analysis of one song in the engine: the C# counterpart of musicdance.audio.analysis.Analysis
// (same fields, same units). MusicAnalyzer (PCM -> MusicAnalysis) fills it; the in-engine
// choreographer reads it. Per-frame arrays have NFrames frames at SampleRateHz / HopLength frames
// per second; frame t is centred at t / Fps seconds.
using System;

namespace MdTool.Dance.Analysis
{
    /// <summary>A long fragment of the song (intro, verse, chorus...), labelled by repetition.</summary>
    public sealed class MusicSection
    {
        public int Index;
        public double StartS, EndS;
        public string Label;
        public int NBars;
    }

    /// <summary>A music phrase (2-8 bars inside a section): the unit a dance phrase fills.</summary>
    public sealed class MusicPhrase
    {
        public int Index;
        public double StartS, EndS;
        public int NBars;
        public int Section;
        public string SectionLabel;
        public double[] BeatTimesS;
        public int[] Counts;
        public double LoudnessDb, Energy, OnsetDensityPerS, CentroidHz, TempoBpm, BreakScore;
    }

    /// <summary>Everything the later stages need to know about a song.</summary>
    public sealed class MusicAnalysis
    {
        public double DurationS;
        public int SampleRateHz;      // analysis rate (22050)
        public int HopLength;         // 512
        public double TempoBpm;
        public int Meter;             // beats per bar: 2, 3 or 4
        public double PulseClarity;
        public double[] BeatTimesS;
        public int[] BeatPositions;   // 1-based position of each beat in its bar
        public double[] DownbeatTimesS;
        public double[] OnsetTimesS;
        public float[] OnsetEnv;      // NFrames
        public float[] Rhythm;        // NFrames, 0/1 rhythm target
        public float[] MelodyHz;      // NFrames, 0 where unvoiced
        public float[,] LogMelDb;     // 128 x NFrames
        public MusicSection[] Sections = Array.Empty<MusicSection>();
        public MusicPhrase[] Phrases = Array.Empty<MusicPhrase>();

        public double Fps => (double)SampleRateHz / HopLength;
        public int NFrames => OnsetEnv == null ? 0 : OnsetEnv.Length;
    }

    /// <summary>PCM in, analysis out. progress receives 0..1; implementations throw
    /// DanceFormatException-derived errors on bad input (silence, too short, NaN samples).</summary>
    public interface IMusicAnalyzer
    {
        MusicAnalysis Analyze(float[] monoPcm, int sampleRateHz, Action<float> progress);
    }
}
