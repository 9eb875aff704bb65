namespace Forge.Model.Config;

/// <summary>A whole training job: one record per TOML section.</summary>
public sealed record JobConfig
{
    /// <summary>Names the run directory runs/&lt;run_name&gt;/.</summary>
    public string RunName { get; init; } = "forge-run";
    public ModelConfig Model { get; init; } = new();
    public TrainConfig Train { get; init; } = new();
    public OptimizerConfig Optimizer { get; init; } = new();
    public SchedulerConfig Scheduler { get; init; } = new();
    public DataConfig Data { get; init; } = new();
    public CheckpointConfig Checkpoint { get; init; } = new();
    public DistributedConfig Distributed { get; init; } = new();
    public VisionEncoderConfig VisionEncoder { get; init; } = new();
    public AdapterConfig Adapter { get; init; } = new();
    public VlmConfig Vlm { get; init; } = new();
    public MetricsConfig Metrics { get; init; } = new();
    public ElasticConfig Elastic { get; init; } = new();
    public SecurityConfig Security { get; init; } = new();
}
