// The bundle's probabilities graph through onnxruntime's C API, for mono/.NET hosts without
// the Microsoft.ML.OnnxRuntime NuGet package (not reachable here): OrtGetApiBase -> the OrtApi
// function table, and the dozen entries used (env, session options, session from bytes, CPU
// tensor over a pinned array, run, release). The native library is "onnxruntime"
// (libonnxruntime.so / onnxruntime.dll; the onnxruntime Python wheel ships one). The Unity
// Sentis back end is Runtime/Unity/SentisProbabilityModel.cs. Table indices
// are those of ORT_API_VERSION 17 (onnxruntime_c_api.h; the table only ever grows).
using System;
using System.Runtime.InteropServices;

namespace MdTool.Dance.Choreography
{
    public sealed class OnnxRuntimeException : Exception
    {
        public OnnxRuntimeException(string message) : base(message) { }
    }

    public sealed class OrtProbabilityModel : IProbabilityModel
    {
        const uint ApiVersion = 17;
        const int GetErrorMessageAt = 2, CreateEnvAt = 3, CreateSessionFromArrayAt = 8, RunAt = 9, CreateSessionOptionsAt = 10;
        const int SetIntraOpNumThreadsAt = 24, SetInterOpNumThreadsAt = 25, CreateTensorWithDataAt = 49, GetTensorMutableDataAt = 51;
        const int CreateCpuMemoryInfoAt = 69, ReleaseEnvAt = 92, ReleaseStatusAt = 93, ReleaseMemoryInfoAt = 94;
        const int ReleaseSessionAt = 95, ReleaseValueAt = 96, ReleaseSessionOptionsAt = 100;

        [DllImport("onnxruntime")]
        static extern IntPtr OrtGetApiBase();

        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr GetApiFn(uint version);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr GetErrorMessageFn(IntPtr status);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr CreateEnvFn(int level, string id, out IntPtr env);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr CreateOptionsFn(out IntPtr options);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr SetThreadsFn(IntPtr options, int threads);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr CreateSessionFromArrayFn(IntPtr env, byte[] model, UIntPtr length, IntPtr options, out IntPtr session);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr CreateCpuMemoryInfoFn(int allocator, int memType, out IntPtr info);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr CreateTensorFn(IntPtr info, IntPtr data, UIntPtr bytes, long[] shape, UIntPtr rank, int type, out IntPtr value);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr RunFn(IntPtr session, IntPtr runOptions, string[] inputNames, IntPtr[] inputs, UIntPtr inputCount, string[] outputNames, UIntPtr outputCount, IntPtr[] outputs);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate IntPtr GetDataFn(IntPtr value, out IntPtr data);
        [UnmanagedFunctionPointer(CallingConvention.Cdecl)] delegate void ReleaseFn(IntPtr handle);

        readonly IntPtr api;
        IntPtr env, options, session, memory;
        readonly int classes;
        readonly string inputName, outputName;

        /// <summary>A session over the ONNX bytes (a library asset's ProbabilitiesOnnx), one
        /// intra-op thread by default (the game keeps its other cores).</summary>
        public OrtProbabilityModel(byte[] onnx, int numClasses, int threads = 1, string input = "mel", string output = "probabilities")
        {
            if (onnx == null || onnx.Length == 0) throw new DanceAssetException("no ONNX graph to load (library exported without a bundle?)");
            try { api = Fn<GetApiFn>(Marshal.ReadIntPtr(OrtGetApiBase()))(ApiVersion); }
            catch (DllNotFoundException e) { throw new OnnxRuntimeException("onnxruntime's native library is not found (" + e.Message + ")"); }
            if (api == IntPtr.Zero) throw new OnnxRuntimeException("this onnxruntime does not offer C API version " + ApiVersion);
            classes = numClasses;
            inputName = input;
            outputName = output;
            Check(At<CreateEnvFn>(CreateEnvAt)(3, "mdtool", out env));
            Check(At<CreateOptionsFn>(CreateSessionOptionsAt)(out options));
            Check(At<SetThreadsFn>(SetIntraOpNumThreadsAt)(options, threads));
            Check(At<SetThreadsFn>(SetInterOpNumThreadsAt)(options, 1));
            Check(At<CreateSessionFromArrayFn>(CreateSessionFromArrayAt)(env, onnx, (UIntPtr)onnx.Length, options, out session));
            Check(At<CreateCpuMemoryInfoFn>(CreateCpuMemoryInfoAt)(1, 0, out memory));
        }

        public int NumClasses { get { return classes; } }

        static T Fn<T>(IntPtr pointer) where T : class
        {
            return Marshal.GetDelegateForFunctionPointer(pointer, typeof(T)) as T;
        }

        T At<T>(int index) where T : class { return Fn<T>(Marshal.ReadIntPtr(api, index * IntPtr.Size)); }

        void Check(IntPtr status)
        {
            if (status == IntPtr.Zero) return;
            string message = Marshal.PtrToStringAnsi(At<GetErrorMessageFn>(GetErrorMessageAt)(status));
            At<ReleaseFn>(ReleaseStatusAt)(status);
            throw new OnnxRuntimeException("onnxruntime: " + message);
        }

        /// <summary>mel: count x 128 x 128 floats -> count x classes probabilities.</summary>
        public float[] Probabilities(float[] mel, int count)
        {
            if (session == IntPtr.Zero) throw new ObjectDisposedException("OrtProbabilityModel");
            int size = ModelInput.Size;
            if (mel.Length != count * size * size) throw new ArgumentException("mel must hold count x 128 x 128 floats");
            var result = new float[count * classes];
            var pin = GCHandle.Alloc(mel, GCHandleType.Pinned);
            IntPtr input = IntPtr.Zero;
            var outputs = new IntPtr[1];
            try
            {
                Check(At<CreateTensorFn>(CreateTensorWithDataAt)(memory, pin.AddrOfPinnedObject(), (UIntPtr)(mel.Length * 4L),
                                                                  new long[] { count, 1, size, size }, (UIntPtr)4, 1, out input));
                Check(At<RunFn>(RunAt)(session, IntPtr.Zero, new[] { inputName }, new[] { input }, (UIntPtr)1,
                                       new[] { outputName }, (UIntPtr)1, outputs));
                IntPtr data;
                Check(At<GetDataFn>(GetTensorMutableDataAt)(outputs[0], out data));
                Marshal.Copy(data, result, 0, result.Length);
            }
            finally
            {
                if (outputs[0] != IntPtr.Zero) At<ReleaseFn>(ReleaseValueAt)(outputs[0]);
                if (input != IntPtr.Zero) At<ReleaseFn>(ReleaseValueAt)(input);
                pin.Free();
            }
            return result;
        }

        public void Dispose()
        {
            if (session != IntPtr.Zero) { At<ReleaseFn>(ReleaseSessionAt)(session); session = IntPtr.Zero; }
            if (memory != IntPtr.Zero) { At<ReleaseFn>(ReleaseMemoryInfoAt)(memory); memory = IntPtr.Zero; }
            if (options != IntPtr.Zero) { At<ReleaseFn>(ReleaseSessionOptionsAt)(options); options = IntPtr.Zero; }
            if (env != IntPtr.Zero) { At<ReleaseFn>(ReleaseEnvAt)(env); env = IntPtr.Zero; }
        }
    }

}
