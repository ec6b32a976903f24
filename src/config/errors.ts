/** Invalid configuration: names the flag, so the one-line message tells the operator what to fix. */
export class ConfigError extends Error {
  constructor(
    readonly flag: string,
    message: string,
  ) {
    super(`invalid --${flag}: ${message}`);
    this.name = 'ConfigError';
  }
}
