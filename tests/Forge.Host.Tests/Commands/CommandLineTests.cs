using System.CommandLine;
using Forge.Host.Commands;

namespace Forge.Host.Tests.Commands;

public sealed class CommandLineTests
{
    public static TheoryData<string[]> EveryCommand() => new()
    {
        { new[] { "train" } }, { new[] { "resume" } }, { new[] { "node" } }, { new[] { "status" } },
        { new[] { "checkpoints" } }, { new[] { "checkpoints", "list" } }, { new[] { "checkpoints", "export" } },
        { new[] { "checkpoints", "import" } }, { new[] { "plot" } }, { new[] { "doctor" } },
    };

    private static (int Code, string Output) Invoke(params string[] args)
    {
        var output = new StringWriter();
        var error = new StringWriter();
        var code = ForgeCli.Create().Parse(args).Invoke(ForgeCli.Invocation(output, error));
        return (code, output + error.ToString());
    }

    [Theory]
    [MemberData(nameof(EveryCommand))]
    public void EveryCommandExplainsItselfWithHelp(string[] command)
    {
        var (code, output) = Invoke([.. command, "--help"]);

        Assert.Equal(0, code);
        // The root's name is the executable's (forge, or the test host here).
        Assert.Matches($@"Usage:\s+\S+ {string.Join(' ', command)}", output);
        Assert.Contains("Description:", output);
    }

    [Fact]
    public void TheRootListsEveryCommand()
    {
        var (_, output) = Invoke("--help");

        foreach (var name in new[] { "train", "resume", "node", "status", "checkpoints", "plot", "doctor" })
            Assert.Contains($"  {name}", output);
    }

    [Fact]
    public void EveryBenchCommandFileIsReachableUnderBench()
    {
        var bench = ForgeCli.Create().Subcommands.Single(c => c.Name == "bench");
        // Each Bench<Area>Command class must be wired in, under its area's lower-case name.
        var areas = typeof(ForgeCli).Assembly.GetTypes()
            .Where(t => t.Namespace == typeof(ForgeCli).Namespace && t.Name.StartsWith("Bench") && t.Name.EndsWith("Command"))
            .Select(t => t.Name["Bench".Length..^"Command".Length].ToLowerInvariant())
            .Order().ToList();

        Assert.NotEmpty(areas);
        // Hidden commands are a benchmark's own child processes, not areas.
        Assert.Equal(areas, bench.Subcommands.Where(c => !c.Hidden).Select(c => c.Name).Order().ToList());
    }

    [Fact]
    public void TrainTakesAConfigRepeatedOverridesAndARankCount()
    {
        var result = ForgeCli.Create().Parse(["train", "config/ca-tiny-cpu.toml", "--set", "model.dim=64", "--set", "train.max_steps=5", "--ranks", "2"]);

        Assert.Empty(result.Errors);
        Assert.Equal("config/ca-tiny-cpu.toml", result.GetValue<string>("config"));
        Assert.Equal(["model.dim=64", "train.max_steps=5"], result.GetValue<string[]>("--set"));
        Assert.Equal(2, result.GetValue<int>("--ranks"));
    }

    [Fact]
    public void NodeTakesSeveralSeedsAndItsAddress()
    {
        var result = ForgeCli.Create().Parse(["node", "--config", "c.toml", "--seed", "a:4053", "--seed", "b:4053", "--host", "10.0.0.2", "--port", "5000", "--gpu", "0", "--gpu", "1"]);

        Assert.Empty(result.Errors);
        Assert.Equal(["a:4053", "b:4053"], result.GetValue<string[]>("--seed"));
        Assert.Equal(("10.0.0.2", 5000), (result.GetValue<string>("--host"), result.GetValue<int>("--port")));
        Assert.Equal([0, 1], result.GetValue<int[]>("--gpu"));
    }

    [Fact]
    public void TrainCanBeAClusterSeed()
    {
        var result = ForgeCli.Create().Parse(["train", "c.toml", "--cluster-port", "4053", "--host", "gpu-a"]);

        Assert.Empty(result.Errors);
        Assert.Equal(4053, result.GetValue<int?>("--cluster-port"));
        Assert.Equal("gpu-a", result.GetValue<string>("--host"));
    }

    [Theory]
    [InlineData(new[] { "node", "--seed", "a:1" }, "--config")]
    [InlineData(new[] { "node", "--config", "c.toml" }, "--seed")]
    [InlineData(new[] { "node", "--config", "c.toml", "--seed", "nohost" }, "expected host:port")]
    [InlineData(new[] { "node", "--config", "c.toml", "--seed", "a:1", "--port", "70000" }, "--port must be 0 to 65535")]
    [InlineData(new[] { "node", "--config", "c.toml", "--seed", "a:1", "--gpu", "-1" }, "--gpu must be")]
    [InlineData(new[] { "train", "c.toml", "--cluster-port", "0" }, "--cluster-port must be 1 to 65535")]
    [InlineData(new[] { "train", "c.toml", "--ranks", "-1" }, "--ranks must be 0 or a positive")]
    [InlineData(new[] { "train" }, "Required argument missing")]
    [InlineData(new[] { "resume" }, "Required argument missing")]
    [InlineData(new[] { "checkpoints", "export", "runs/x", "--dtype", "float16" }, "float16")]
    [InlineData(new[] { "trian" }, "trian")]
    public void BadCommandLinesAreRejectedNamingTheProblem(string[] args, string mentioned)
    {
        var result = ForgeCli.Create().Parse(args);

        Assert.NotEmpty(result.Errors);
        Assert.Contains(result.Errors, e => e.Message.Contains(mentioned));
    }

    [Fact]
    public void ABadConfigExitsWithTheUsageCodeBeforeCreatingTheRunDirectory()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("bad.toml"), "[model]\ndim = 128\nn_heads = 3\n");

        var (code, _) = Invoke("train", dir.File("bad.toml"), "--runs", dir.File("runs"));

        Assert.Equal(2, code);
        Assert.False(Directory.Exists(dir.File("runs")));
    }

    [Fact]
    public async Task ABadConfigIsReportedWithItsFileLineKeyValueAndExpectation()
    {
        using var dir = new TempDirectory();
        File.WriteAllText(dir.File("bad.toml"), "[model]\ndim = 128\nn_heads = 3\n");
        var output = new StringWriter();

        // The command's own console, which the parse-level invocation above does not capture.
        var code = await TrainCommand.RunAsync(dir.File("bad.toml"), [], 0, dir.File("runs"), null, RecordingConsole.Create(output));

        Assert.Equal(2, code);
        Assert.Contains($"{dir.File("bad.toml")}:3: model.n_heads = 3: a divisor of model.dim (128)", output.ToString());
    }
}
