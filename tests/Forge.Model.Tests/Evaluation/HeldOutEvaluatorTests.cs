using Forge.Model.Data;
using Forge.Model.Evaluation;
using Forge.Model.Tests.Data;
using static TorchSharp.torch;

namespace Forge.Model.Tests.Evaluation;

public sealed class HeldOutEvaluatorTests : IDisposable
{
    private readonly TemporaryFolder _folder = new();
    private readonly ImageTextDataset _heldOut;
    private readonly HeldOutEvaluator _evaluator;

    public HeldOutEvaluatorTests()
    {
        _heldOut = TestDataSets.Open(TestDataSets.WriteManifest(_folder, "eval.jsonl",
            [.. Enumerable.Range(0, 7).Select(i => ($"held out emoji number {i}", i % 2 == 0 ? null : (string?)"emoji:"))]));
        _evaluator = new HeldOutEvaluator(_heldOut, seed: 11);
    }

    public void Dispose() => _folder.Dispose();

    private long AllTargetTokens()
    {
        using var all = _heldOut.Batch([.. Enumerable.Range(0, _heldOut.Count)]);
        return all.TargetTokens();
    }

    [Fact]
    public void UniformModelScoresLogVocabularyPerTargetToken()
    {
        using var model = FakeCaptionModel.Uniform(_heldOut.Tokenizer.VocabSize);

        var result = _evaluator.Evaluate(model, CPU, batchSize: 3);

        Assert.Equal(Math.Log(_heldOut.Tokenizer.VocabSize), result.MeanLoss, 1e-5);
        Assert.Equal(AllTargetTokens(), result.Tokens);
        Assert.Equal(_heldOut.Count, result.Samples);
    }

    [Fact]
    public void ModelThatKnowsTheCaptionsScoresFarBelowUniform()
    {
        using var oracle = FakeCaptionModel.Oracle(_heldOut, _ => 12);
        using var uniform = FakeCaptionModel.Uniform(_heldOut.Tokenizer.VocabSize);

        var known = _evaluator.Evaluate(oracle, CPU, batchSize: 4);
        var guessed = _evaluator.Evaluate(uniform, CPU, batchSize: 4);

        Assert.InRange(known.MeanLoss, 0, 0.01);
        Assert.True(guessed.MeanLoss > 100 * known.MeanLoss);
    }

    [Fact]
    public void RankSharesAddUpToTheOneRankResult()
    {
        // Per-row confidence makes every row's loss different, so a lost or doubled row would show.
        using var model = FakeCaptionModel.Oracle(_heldOut, row => 0.5 + row);

        var whole = _evaluator.Evaluate(model, CPU, batchSize: 2);
        var shares = Enumerable.Range(0, 3).Select(rank => _evaluator.Evaluate(model, CPU, batchSize: 2, worldSize: 3, rank: rank));
        var summed = shares.Aggregate(EvalResult.Empty, (sum, part) => sum.Plus(part));

        Assert.Equal(whole.Tokens, summed.Tokens);
        Assert.Equal(whole.Samples, summed.Samples);
        Assert.Equal(whole.LossSum, summed.LossSum, 1e-4);
    }

    [Fact]
    public void MaxBatchesBoundsTheEvaluatedSamples()
    {
        using var model = FakeCaptionModel.Uniform(_heldOut.Tokenizer.VocabSize);

        Assert.Equal(4, _evaluator.Evaluate(model, CPU, batchSize: 2, maxBatches: 2).Samples);
        Assert.Equal(7, _evaluator.Evaluate(model, CPU, batchSize: 2, maxBatches: 9).Samples);
    }

    [Fact]
    public void EvaluationRunsWithoutGradInEvalModeAndRestoresTraining()
    {
        using var model = FakeCaptionModel.Uniform(_heldOut.Tokenizer.VocabSize);
        model.Module.train();

        _evaluator.Evaluate(model, CPU, batchSize: 4);

        Assert.NotEmpty(model.Calls);
        Assert.All(model.Calls, call => Assert.Equal((false, false), call));
        Assert.True(model.Module.training);
        Assert.True(is_grad_enabled());
    }

    [Fact]
    public void EvaluationOrderIsASeededPermutationOfTheHeldOutRows()
    {
        Assert.Equal(Enumerable.Range(0, _heldOut.Count), _evaluator.Rows.Order());
        Assert.Equal(_evaluator.Rows, new HeldOutEvaluator(_heldOut, seed: 11).Rows);
    }
}
