/** Invalid configuration: names the flag, so the one-line message tells the operator what to fix. */
export class ConfigError extends Error {
  /** `whole`: the message already names the flag ("--port must be an integer"). */
  constructor(
    readonly flag: string,
    message: string,
    whole = false,
  ) {
    super(whole ? message : `invalid --${flag}: ${message}`);
    this.name = 'ConfigError';
  }
}
