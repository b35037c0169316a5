import { ConfigError, parseConfig } from '../../functions/core/config.js';

/** The smallest configuration parseConfig accepts: a Team target whose API key is in Secrets Manager. */
export const minimalTeamConfig = {
  masv: { target: { kind: 'team', teamId: 'T', apiKeySecretName: 'masv/api-key' } },
};

/** The problems parseConfig lists for an input it refuses; an accepted input fails the test. */
export function configProblems(input: unknown): string[] {
  try {
    parseConfig(input);
  } catch (error) {
    if (error instanceof ConfigError) return error.problems;
    throw error;
  }
  throw new Error('expected a ConfigError');
}
