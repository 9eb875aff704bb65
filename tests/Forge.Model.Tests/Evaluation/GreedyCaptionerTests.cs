using Forge.Model.Data;
using Forge.Model.Evaluation;
using Forge.Model.Tests.Data;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Evaluation;

public sealed class GreedyCaptionerTests : IDisposable
{
    private const int MaxTextLen = 48;
    private readonly TemporaryFolder _folder = new();
    private readonly ImageTextDataset _heldOut;

    public GreedyCaptionerTests()
    {
        _heldOut = TestDataSets.Open(TestDataSets.WriteManifest(_folder, "eval.jsonl",
        [
            ("grinning face", null),
            ("red heart", "a:"),
            ("thumbs up, medium skin tone", "describe this:"),
        ]), maxTextLen: MaxTextLen);
    }

    public void Dispose() => _folder.Dispose();

    [Fact]
    public void ModelThatKnowsTheCaptionsGeneratesThemForRowsWithDifferentPromptLengths()
    {
        using var oracle = FakeCaptionModel.Oracle(_heldOut, _ => 10);

        var captions = new GreedyCaptioner(_heldOut).Generate(oracle, [2, 0, 1], CPU);

        Assert.Equal(["thumbs up, medium skin tone", "grinning face", "red heart"], captions.Select(c => c.Generated));
        Assert.Equal(captions.Select(c => c.Reference), captions.Select(c => c.Generated));
        Assert.Equal([_heldOut[2].ImagePath, _heldOut[0].ImagePath, _heldOut[1].ImagePath], captions.Select(c => c.ImagePath));
    }

    [Fact]
    public void ModelThatNeverEmitsEosStopsWhenMaxTextLenIsFull()
    {
        using var chatty = FakeCaptionModel.Constant(_heldOut.Tokenizer.VocabSize, 'x');

        var captions = new GreedyCaptioner(_heldOut).Generate(chatty, [0, 2], CPU);

        Assert.Equal(new string('x', MaxTextLen - 1), captions[0].Generated); // after BOS
        Assert.Equal(new string('x', MaxTextLen - 1 - "describe this:".Length), captions[1].Generated);
    }

    [Fact]
    public void GenerationFeedsTrainingShapedInputsWithoutGradAndRestoresTraining()
    {
        var shapes = new List<long[]>();
        using var model = new FakeCaptionModel((images, ids) =>
        {
            shapes.Add(ids.shape);
            return zeros(ids.shape[0], ids.shape[1], _heldOut.Tokenizer.VocabSize);
        });
        model.Module.train();

        new GreedyCaptioner(_heldOut).Generate(model, [0, 1], CPU);

        Assert.All(shapes, shape => Assert.Equal([2L, MaxTextLen], shape));
        Assert.All(model.Calls, call => Assert.Equal((false, false), call));
        Assert.True(model.Module.training);
    }
}
