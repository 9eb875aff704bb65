using static TorchSharp.torch;

namespace Forge.Model.Runtime;

/// <summary>
/// Lifetimes of the tensors a custom autograd function's backward touches. On CUDA libtorch runs
/// backward on its own worker thread for the device, where no DisposeScope is open, so every tensor
/// wrapper made there would hold its device memory until the garbage collector finalised it (gigabytes
/// a step at ca-1b). The wrappers of the incoming gradient and of the saved tensors are the function's
/// own (LibTorchSharp hands each over as a new reference) and are disposed when backward ends; the
/// gradients it returns must outlive the return, when libtorch takes its own reference, so they are
/// disposed at the start of the next backward on the same thread, when that has surely happened.
/// </summary>
public static class BackwardTensors
{
    [ThreadStatic] private static List<Tensor>? _returned;

    /// <summary>
    /// Releases the gradients the previous backward on this thread returned and keeps these until the
    /// next one; returns them as the list a backward returns (nulls for inputs that get no gradient).
    /// </summary>
    public static List<Tensor> Return(params Tensor?[] gradients)
    {
        if (_returned is { } previous)
            foreach (var t in previous) t.Dispose();
        _returned = gradients.OfType<Tensor>().ToList();
        // Tensors made in backward on a thread with an open scope (the caller's own thread, on a CPU)
        // are that scope's too; detached, they are disposed here once, not twice.
        foreach (var t in _returned) t.DetachFromDisposeScope();
        return gradients.ToList()!;
    }

    /// <summary>Disposes the wrappers backward was handed (incoming gradient, unpacked saved tensors).</summary>
    public static void Release(IEnumerable<Tensor> handed)
    {
        foreach (var t in handed) t.Dispose();
    }
}
