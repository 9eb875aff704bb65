using System.Diagnostics;
using System.Net;
using System.Net.Sockets;
using System.Text.Json;
using Forge.Actors.Security;
using Forge.Host.Commands;
using Forge.Host.Hosting;
using Forge.Model.Tests.Data;
using Xunit.Abstractions;

namespace Forge.Host.Tests.Hosting;

/// <summary>
/// Real `forge node` processes against a TLS cluster seed (`forge train --cluster-port`, in this
/// process) on loopback: one with a certificate of another CA and one without TLS start first and
/// keep trying while the job runs; a node with the cluster's certificate then joins. Only the
/// trusted node's rank ever trains with the seed's.
/// </summary>
public sealed class UntrustedNodeProcessesTests(ITestOutputHelper output)
{
    private const string Host = "127.0.0.1";

    [Fact]
    public async Task ForgeNodesWithoutTheClustersCertificateNeverGetARankWhileATrustedNodeTrainsWithTheSeed()
    {
        using var dir = new TempDirectory();
        using var data = new TemporaryFolder();
        var train = TestDataSets.WriteNumbered(data, "train.jsonl", 8, imageSize: 8);
        var ours = Certificates(dir.File("ours"));
        var theirs = Certificates(dir.File("theirs"));
        var config = dir.File("tiny.toml");
        File.WriteAllText(config, $"""
            run_name = "tls-processes"
            [model]
            dim = 16
            n_layers = 2
            n_heads = 2
            vocab_size = 264
            max_seq_len = 16
            [vlm]
            max_text_len = 12
            cross_attention_every_n_layers = 2
            freeze = []
            [vision_encoder]
            type = "vit"
            feature_dim = 8
            image_size = 8
            patch_size = 4
            num_tokens = 4
            n_layers = 1
            n_heads = 2
            [data]
            manifest = "{train}"
            eval_manifest = ""
            image_size = 8
            num_workers = 1
            [train]
            batch_size = 2
            global_batch_size = 4
            max_steps = 60
            mixed_precision = "fp32"
            log_interval = 1
            eval_interval = 0
            generate_samples = 0
            score_samples = 0
            [checkpoint]
            interval = 10
            [elastic]
            min_ranks = 2
            max_ranks = 4
            """);
        var port = FreePort();
        var seedOutput = new StringWriter();

        // The seed waits for a second rank; the strangers knock first.
        var seed = TrainCommand.RunAsync(config, Trusting(ours), 1, dir.File("runs"), new ClusterAddress(Host, port), RecordingConsole.Create(seedOutput));
        using var otherCa = ForgeNode(dir, config, port, Trusting(theirs), "other-ca");
        using var plain = ForgeNode(dir, config, port, [], "no-certificate");
        await Task.Delay(TimeSpan.FromSeconds(8));
        using var trusted = ForgeNode(dir, config, port, Trusting(ours), "trusted");
        var code = await seed.WaitAsync(TimeSpan.FromMinutes(4));
        output.WriteLine(seedOutput.ToString());
        // Its TLS handshake failed, so Akka.Remote shut it down, and `forge node` said so: exit 1.
        var otherCaExit = otherCa.ExitCode;
        foreach (var node in new[] { otherCa, plain, trusted }) node.Stop(output);

        Assert.True(code == 0, seedOutput.ToString());
        var worlds = File.ReadLines(Path.Combine(dir.File("runs"), "tls-processes", "metrics.jsonl"))
            .Select(line => JsonDocument.Parse(line).RootElement)
            .Where(m => m.TryGetProperty("world_size", out _))
            .Select(m => (Step: m.GetProperty("step").GetInt64(), World: m.GetProperty("world_size").GetInt32()))
            .ToList();
        Assert.Equal(60, worlds[^1].Step);
        Assert.All(worlds, w => Assert.Equal(2, w.World));
        Assert.Equal(1, otherCaExit);
    }

    private static string[] Trusting(ClusterCertificates certs) =>
        [$"security.ca_certificate={certs.CaPath}", $"security.node_certificate={certs.NodePath(Host)}"];

    private static ClusterCertificates Certificates(string directory)
    {
        var certs = new ClusterCertificates(directory);
        certs.CreateAuthority(Path.GetFileName(directory)).Dispose();
        certs.CreateNode(Host).Dispose();
        return certs;
    }

    /// <summary>`forge node` as its own process, in the run's working directory (it opens runs/&lt;run&gt;/ there, as the seed does).</summary>
    private static NodeProcess ForgeNode(TempDirectory dir, string config, int seedPort, string[] overrides, string name)
    {
        var forge = Path.Combine(AppContext.BaseDirectory, "forge.dll");
        Assert.True(File.Exists(forge), $"{forge} is missing; it is built with Forge.Host.Tests (project reference)");
        var start = new ProcessStartInfo(Environment.GetEnvironmentVariable("DOTNET_HOST_PATH") ?? "dotnet")
        {
            WorkingDirectory = dir.Path,
            RedirectStandardOutput = true,
            RedirectStandardError = true,
            UseShellExecute = false,
        };
        foreach (var arg in new[] { forge, "node", "--config", config, "--seed", $"{Host}:{seedPort}", "--host", Host, "--ranks", "1" })
            start.ArgumentList.Add(arg);
        foreach (var set in overrides)
        {
            start.ArgumentList.Add("--set");
            start.ArgumentList.Add(set);
        }
        return new NodeProcess(name, start);
    }

    private sealed class NodeProcess : IDisposable
    {
        private readonly Process _process;
        private readonly List<string> _lines = [];

        public NodeProcess(string name, ProcessStartInfo start)
        {
            Name = name;
            _process = new Process { StartInfo = start };
            _process.OutputDataReceived += (_, e) => { if (e.Data is not null) lock (_lines) _lines.Add(e.Data); };
            _process.ErrorDataReceived += (_, e) => { if (e.Data is not null) lock (_lines) _lines.Add(e.Data); };
            _process.Start();
            _process.BeginOutputReadLine();
            _process.BeginErrorReadLine();
        }

        public string Name { get; }

        /// <summary>The exit code, if the process has ended by itself.</summary>
        public int? ExitCode => _process.HasExited ? _process.ExitCode : null;

        public void Stop(ITestOutputHelper output)
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.WaitForExit(10_000);
            lock (_lines)
            {
                output.WriteLine($"--- forge node ({Name}): {_lines.Count} lines; the first 15:");
                foreach (var line in _lines.Take(15)) output.WriteLine(line);
            }
        }

        public void Dispose()
        {
            if (!_process.HasExited) _process.Kill(entireProcessTree: true);
            _process.Dispose();
        }
    }

    private static int FreePort()
    {
        using var listener = new TcpListener(IPAddress.Loopback, 0);
        listener.Start();
        return ((IPEndPoint)listener.LocalEndpoint).Port;
    }
}
