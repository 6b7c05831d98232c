// The bundle's probabilities graph through Unity Sentis, the in-engine back end of
// IProbabilityModel (OrtProbabilityModel is the other). Compiled only where UNITY_SENTIS is
// defined: the asmdef's versionDefines define it when com.unity.sentis (2.x) is installed, and
// the asmdef must then list Unity.Sentis in its references. NOT compiled or run here (no Unity,
// no Sentis): written against the Sentis 2 API (ModelLoader, Worker, Tensor<float>), untested.
#if UNITY_SENTIS
using MdTool.Dance.Choreography;

namespace MdTool.Dance
{
    /// <summary>The bundle graph (an imported ModelAsset of probabilities.onnx) run by Sentis on
    /// the CPU: mel [n, 1, 128, 128] -> probabilities [n, classes].</summary>
    public sealed class SentisProbabilityModel : IProbabilityModel
    {
        readonly Unity.Sentis.Worker worker;
        readonly int classes;

        public SentisProbabilityModel(Unity.Sentis.ModelAsset asset, int numClasses)
        {
            worker = new Unity.Sentis.Worker(Unity.Sentis.ModelLoader.Load(asset), Unity.Sentis.BackendType.CPU);
            classes = numClasses;
        }

        public int NumClasses { get { return classes; } }

        public float[] Probabilities(float[] mel, int count)
        {
            int size = ModelInput.Size;
            using (var input = new Unity.Sentis.Tensor<float>(new Unity.Sentis.TensorShape(count, 1, size, size), mel))
            {
                worker.Schedule(input);
                var output = worker.PeekOutput() as Unity.Sentis.Tensor<float>;
                return output.DownloadToArray();
            }
        }

        public void Dispose() { worker.Dispose(); }
    }
}
#endif
