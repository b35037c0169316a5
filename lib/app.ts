import { type App, type Environment, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { loadConfigFile } from './config-file.js';
import { MasvRelayStack } from './relay-stack.js';

/**
 * The account and Region the CDK CLI resolved (from the credentials and AWS_REGION, the profile,
 * …), as it hands them to the app: CDK's documented pattern for a stack that deploys where the CLI
 * points yet knows that place at synth. Unset (no credentials, the app run without the CLI), the
 * stack is environment-agnostic in that dimension.
 */
export function cliEnvironment(env: NodeJS.ProcessEnv = process.env): Environment {
  return { account: env.CDK_DEFAULT_ACCOUNT, region: env.CDK_DEFAULT_REGION };
}

/**
 * The app users deploy: one MasvRelayStack from the configuration file (`-c config=`, default
 * `masv-relay.config.jsonc`), in `env`, checked by cdk-nag's packs at synth. A known account and
 * Region let synth refuse resources the configuration places elsewhere (lib/placement.ts).
 * Throws ConfigError for a bad configuration.
 */
export function buildRelayApp(app: App, env: Environment): MasvRelayStack {
  const configPath = (app.node.tryGetContext('config') as string | undefined) ?? 'masv-relay.config.jsonc';
  const stack = new MasvRelayStack(
    app,
    (app.node.tryGetContext('stackName') as string | undefined) ?? 'MasvRelay',
    {
      config: loadConfigFile(configPath),
      env,
      description: 'masv-relay: delivers S3 objects into MASV packages',
    },
  );
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  return stack;
}
