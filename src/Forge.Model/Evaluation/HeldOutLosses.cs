namespace Forge.Model.Evaluation;

/// <summary>
/// The held-out mean token losses of one eval, one per held-out test; null for a test that is not
/// configured or whose rows hold no target tokens.
/// <list type="bullet">
/// <item><see cref="UnseenNames"/>: data.eval_manifest, captions the model never trained on (does it generalise the words?).</item>
/// <item><see cref="UnseenArt"/>: data.unseen_art_manifest, training captions drawn by other art (does it see?).</item>
/// </list>
/// </summary>
public sealed record HeldOutLosses(double? UnseenNames, double? UnseenArt);
