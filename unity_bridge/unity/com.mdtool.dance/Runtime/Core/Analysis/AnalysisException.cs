// The one exception type the in-engine analysis throws for input it cannot analyse.
namespace MdTool.Dance.Analysis
{
    /// <summary>PCM that cannot be analysed (empty, silent, too short, NaN/inf or out-of-range
    /// samples, an unsupported sample rate, no steady pulse); the message says which.</summary>
    public class AnalysisException : DanceFormatException
    {
        public AnalysisException(string message) : base(message) { }
    }
}
