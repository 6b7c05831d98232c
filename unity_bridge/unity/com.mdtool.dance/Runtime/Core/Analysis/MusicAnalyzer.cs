// PCM -> MusicAnalysis in C#: the port of musicdance.audio.analysis.analyze_signal (resample to
// 22050 Hz, one STFT pass of features, tempo and beats, meter and downbeats, onsets and rhythm,
// bar-level Laplacian structure, 2-8 bar phrases with their descriptors). No Unity API: it runs
// on any thread. Where Python warns and returns an analysis without phrases (silence, under 4 s,
// no steady pulse, under 2 bars) this throws an AnalysisException with the same words, since
// there is nothing to dance to.
using System;
using System.Collections.Generic;

namespace MdTool.Dance.Analysis
{
    public sealed class MusicAnalyzer : IMusicAnalyzer
    {
        public const int AnalysisSampleRateHz = 22050;
        public const int MinSampleRateHz = 4000, MaxSampleRateHz = 768000;
        public const double MaxSongS = 2 * 3600.0, MaxSampleAbs = 1000.0;
        public const double SilenceRms = 3e-4, MinBeatDurationS = 4.0;

        /// <summary>Analyse mono PCM at any rate from 4 kHz to 768 kHz; progress gets 0..1.</summary>
        public MusicAnalysis Analyze(float[] monoPcm, int sampleRateHz, Action<float> progress)
        {
            Action<float> report = progress ?? (_ => { });
            Check(monoPcm, sampleRateHz);
            report(0f);
            float[] y = monoPcm;
            float resampleShare = sampleRateHz == AnalysisSampleRateHz ? 0f : 0.15f;
            if (sampleRateHz != AnalysisSampleRateHz)
                y = Resampler.Resample(monoPcm, sampleRateHz, AnalysisSampleRateHz, p => report(p * resampleShare));
            SpectralFeatures f = SpectralFeatures.Compute(
                y, AnalysisSampleRateHz, p => report(resampleShare + p * (0.8f - resampleShare)),
                SoxrCorrection(sampleRateHz));
            report(0.8f);
            MusicAnalysis a = FromFeatures(f, (double)y.Length / AnalysisSampleRateHz);
            report(1f);
            return a;
        }

        /// <summary>Per-bin gain that turns this resampler's band edge into soxr's (the Python
        /// analysis resamples with soxr): soxr's response over ours, at most +20 dB; null when
        /// the song is not downsampled.</summary>
        public static double[] SoxrCorrection(int sampleRateHz)
        {
            int nBins = 1 + SpectralFeatures.NFft / 2;
            double[] ours = Resampler.MagnitudeResponse(sampleRateHz, AnalysisSampleRateHz, nBins);
            if (ours == null) return null;
            var gain = new double[nBins];
            for (int b = 0; b < nBins; b++)
                gain[b] = Math.Min(SoxrResponse.Gain[b] / Math.Max(ours[b], 1e-9), 10.0);
            return gain;
        }

        static void Check(float[] y, int sr)
        {
            if (y == null || y.Length == 0) throw new AnalysisException("no audio samples (the PCM array is empty)");
            if (sr < MinSampleRateHz || sr > MaxSampleRateHz)
                throw new AnalysisException(string.Format(
                    "sample rate {0} Hz is outside the {1} to {2} Hz that can be analysed", sr, MinSampleRateHz, MaxSampleRateHz));
            if (y.Length / (double)sr > MaxSongS)
                throw new AnalysisException(string.Format(
                    "the signal is {0:F1} minutes long; the limit is {1:G} minutes", y.Length / (double)sr / 60, MaxSongS / 60));
            for (int i = 0; i < y.Length; i++)
            {
                float v = y[i];
                if (float.IsNaN(v) || float.IsInfinity(v))
                    throw new AnalysisException(string.Format(
                        "sample {0} is {1}: audio samples must be finite numbers", i, float.IsNaN(v) ? "NaN" : "infinite"));
                if (Math.Abs(v) > MaxSampleAbs)
                    throw new AnalysisException(string.Format(
                        "samples reach {0:G3}; audio samples must lie within about [-1, 1] (at most {1:G} is accepted)", Math.Abs(v), MaxSampleAbs));
            }
        }

        /// <summary>Every stage after the features (beats to phrases).</summary>
        public static MusicAnalysis FromFeatures(SpectralFeatures f, double durationS)
        {
            double fps = f.Fps;
            double peakRms = 0;
            foreach (float v in f.Rms) peakRms = Math.Max(peakRms, v);
            if (peakRms < SilenceRms) throw new AnalysisException("silent input: no beats, no phrases");
            if (durationS < MinBeatDurationS)
                throw new AnalysisException(string.Format(
                    "too short for beat tracking ({0:F1} s < {1:G} s): no beats, no phrases", durationS, MinBeatDurationS));
            double tempo, clarity;
            BeatTracker.EstimateTempo(f.OnsetEnv, fps, out tempo, out clarity);
            int[] beats = BeatTracker.TrackBeats(f.OnsetEnv, fps, tempo);
            if (beats.Length < 4) throw new AnalysisException("no steady pulse found: no beats, no phrases");
            tempo = 60.0 * fps / BeatPeriod(beats);

            int meter;
            int[] positions;
            if (beats.Length >= 8)
            {
                Dictionary<int, double> scores;
                meter = BeatTracker.EstimateMeter(beats, f.Chroma, f.ChromaBass, f.OnsetEnvLow, out scores);
                double[] sal = BeatTracker.BeatSalience(beats, f.Chroma, f.ChromaBass, f.OnsetEnvLow, meter);
                positions = BeatTracker.TrackDownbeats(sal, meter);
            }
            else
            {
                meter = 4;
                positions = new int[beats.Length];
                for (int i = 0; i < beats.Length; i++) positions[i] = i % 4 + 1;
            }
            int[] onsets = Phrasing.OnsetPeaks(f.OnsetEnv, fps);
            float[] rhythm = Phrasing.RhythmTarget(onsets, f.MelodyHz, f.NFrames);

            var down = new List<int>();
            for (int i = 0; i < beats.Length; i++) if (positions[i] == 1) down.Add(beats[i]);
            int[] downbeats = down.ToArray();
            double medianBeat = Stats.Median(BeatTracker.Diff(beats));
            int[] barFrames = BarFrames(downbeats, medianBeat, meter, f.NFrames);
            var breaks = new double[Math.Max(barFrames.Length - 1, 0)];
            if (barFrames.Length > 1)
            {
                var starts = new int[barFrames.Length - 1];
                Array.Copy(barFrames, starts, starts.Length);
                breaks = Phrasing.BreakScores(starts, medianBeat, f.MelodyHz, f.OnsetEnv);
            }
            int phase = Phrasing.HypermetricPhase(breaks);

            var a = new MusicAnalysis
            {
                DurationS = durationS, SampleRateHz = f.SampleRateHz, HopLength = SpectralFeatures.HopLength,
                TempoBpm = tempo, Meter = meter, PulseClarity = clarity,
                BeatTimesS = Times(beats, fps), BeatPositions = positions, DownbeatTimesS = Times(downbeats, fps),
                OnsetTimesS = Times(onsets, fps), OnsetEnv = f.OnsetEnv, Rhythm = rhythm, MelodyHz = f.MelodyHz,
                LogMelDb = f.LogMelDb,
            };
            int nBars = barFrames.Length - 1;
            if (nBars < 1) throw new AnalysisException("fewer than 2 bars found: no phrases");
            double[][] bf = Structure.BarFeatures(barFrames, f);
            Segmentation seg = Structure.SegmentBars(bf, 8, 4, 2, 3, 0);
            seg = Structure.RefineBoundaries(seg, breaks, 1, Math.Min(4, nBars), phase);
            a.Sections = new MusicSection[seg.Starts.Length];
            for (int i = 0; i < seg.Starts.Length; i++)
                a.Sections[i] = new MusicSection
                {
                    Index = i, StartS = R4(barFrames[seg.Starts[i]] / fps), EndS = R4(barFrames[seg.Stops[i]] / fps),
                    Label = seg.Labels[i], NBars = seg.Stops[i] - seg.Starts[i],
                };
            if (barFrames.Length < 3) throw new AnalysisException("fewer than 2 bars found: no phrases");
            double[] grid = Phrasing.GridBonus(breaks.Length, phase);
            var prior = new double[breaks.Length];
            for (int i = 0; i < prior.Length; i++) prior[i] = breaks[i] + grid[i];
            a.Phrases = PhraseList(barFrames, seg, a.Sections, beats, f, onsets, meter, prior);
            return a;
        }

        static double R4(double x) { return Math.Round(x, 4, MidpointRounding.ToEven); }

        static double[] Times(int[] frames, double fps)
        {
            var t = new double[frames.Length];
            for (int i = 0; i < frames.Length; i++) t[i] = frames[i] / fps;
            return t;
        }

        /// <summary>Beat period in frames: the least-squares slope of beat frame against index
        /// when within 5 % of the median interval, else the median.</summary>
        public static double BeatPeriod(int[] beats)
        {
            var y = new double[beats.Length];
            for (int i = 0; i < y.Length; i++) y[i] = beats[i];
            double slope = beats.Length > 2 ? Stats.Slope(y) : 0.0;
            double median = Stats.Median(BeatTracker.Diff(beats));
            return Math.Abs(slope / median - 1) < 0.05 ? slope : median;
        }

        static int[] BarFrames(int[] downbeats, double period, int meter, int nFrames)
        {
            if (downbeats.Length == 0) return new int[0];
            int end = Stats.RoundInt(downbeats[downbeats.Length - 1] + meter * period);
            if (end > nFrames + 0.25 * period) return (int[])downbeats.Clone();
            var outF = new int[downbeats.Length + 1];
            Array.Copy(downbeats, outF, downbeats.Length);
            outF[downbeats.Length] = Math.Min(end, nFrames);
            return outF;
        }

        static MusicPhrase[] PhraseList(int[] barFrames, Segmentation seg, MusicSection[] sections, int[] beats,
                                        SpectralFeatures f, int[] onsets, int meter, double[] prior)
        {
            double fps = f.Fps;
            int cycle = Phrasing.CountCycle(meter);
            var outP = new List<MusicPhrase>();
            for (int si = 0; si < seg.Starts.Length; si++)
            {
                int s = seg.Starts[si], e = seg.Stops[si], bar = s;
                foreach (int length in Phrasing.CutSection(e - s, prior, s))
                {
                    int f0 = barFrames[bar], f1 = barFrames[bar + length];
                    var inPhrase = new List<int>();
                    foreach (int b in beats) if (b >= f0 && b < f1) inPhrase.Add(b);
                    double dur = Math.Max((f1 - f0) / fps, 1e-6);
                    int nOn = 0;
                    foreach (int o in onsets) if (o >= f0 && o < f1) nOn++;
                    double sumRms = 0, sumSq = 0, sumCent = 0;
                    for (int t = f0; t < f1; t++)
                    {
                        double r = f.Rms[t];
                        sumRms += r; sumSq += r * r; sumCent += f.CentroidHz[t] * r;
                    }
                    int count = f1 - f0;
                    var beatTimes = new double[inPhrase.Count];
                    var counts = new int[inPhrase.Count];
                    for (int k = 0; k < inPhrase.Count; k++) { beatTimes[k] = R4(inPhrase[k] / fps); counts[k] = k % cycle + 1; }
                    outP.Add(new MusicPhrase
                    {
                        Index = outP.Count, StartS = R4(f0 / fps), EndS = R4(f1 / fps), NBars = length,
                        Section = si, SectionLabel = sections[si].Label, BeatTimesS = beatTimes, Counts = counts,
                        LoudnessDb = count > 0
                            ? Math.Round(20 * Math.Log10(Math.Max(Math.Sqrt(sumSq / count), 1e-6)), 2, MidpointRounding.ToEven)
                            : -120.0,
                        OnsetDensityPerS = Math.Round(nOn / dur, 3, MidpointRounding.ToEven),
                        CentroidHz = Math.Round(sumCent / Math.Max(sumRms, 1e-12), 1, MidpointRounding.ToEven),
                        TempoBpm = inPhrase.Count > 2
                            ? Math.Round(60.0 * fps / BeatPeriod(inPhrase.ToArray()), 2, MidpointRounding.ToEven) : 0.0,
                        BreakScore = Math.Round(bar > 0 ? prior[bar] : 0.0, 3, MidpointRounding.ToEven),
                    });
                    bar += length;
                }
            }
            if (outP.Count > 0)
            {
                double lo = double.PositiveInfinity, hi = double.NegativeInfinity;
                foreach (var p in outP) { lo = Math.Min(lo, p.LoudnessDb); hi = Math.Max(hi, p.LoudnessDb); }
                double span = hi - lo;
                foreach (var p in outP)
                    p.Energy = Math.Round(span > 1e-9 ? (p.LoudnessDb - lo) / span : 1.0, 3, MidpointRounding.ToEven);
            }
            return outP.ToArray();
        }
    }
}
