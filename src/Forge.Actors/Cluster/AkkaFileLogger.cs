using Akka.Actor;
using Akka.Dispatch;
using Akka.Event;

namespace Forge.Actors.Cluster;

/// <summary>
/// Akka's own log (membership, remoting, dead letters, stack traces) into runs/&lt;run&gt;/akka.log
/// instead of the console, where one node's failure used to print dozens of warnings. The console
/// keeps the job's events, one line each, from the supervisor's observer. Configured by
/// <see cref="ForgeAkkaConfig.LoggingTo"/>.
/// </summary>
public sealed class AkkaFileLogger : ReceiveActor, IRequiresMessageQueue<ILoggerMessageQueueSemantics>
{
    /// <summary>The HOCON key that names the file.</summary>
    public const string FileKey = "forge.akka-log-file";

    private StreamWriter? _file;

    public AkkaFileLogger()
    {
        Receive<InitializeLogger>(_ =>
        {
            var path = Context.System.Settings.Config.GetString(FileKey, "akka.log");
            Directory.CreateDirectory(Path.GetDirectoryName(Path.GetFullPath(path))!);
            _file = new StreamWriter(new FileStream(path, FileMode.Append, FileAccess.Write, FileShare.ReadWrite)) { AutoFlush = true };
            Sender.Tell(new LoggerInitialized());
        });
        Receive<LogEvent>(e => _file?.WriteLine(e.ToString()));
    }

    protected override void PostStop() => _file?.Dispose();
}
