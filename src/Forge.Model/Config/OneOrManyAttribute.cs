namespace Forge.Model.Config;

/// <summary>
/// Marks a list key that also takes a single value, read as a list of one: a key that grew from one
/// value to several (data.manifest) keeps every config written for one valid.
/// </summary>
[AttributeUsage(AttributeTargets.Property)]
public sealed class OneOrManyAttribute : Attribute;
