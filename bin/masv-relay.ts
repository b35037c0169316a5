#!/usr/bin/env node
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { ConfigError } from '../functions/core/config.js';
import { loadConfigFile } from '../lib/config-file.js';
import { MasvRelayStack } from '../lib/relay-stack.js';

const app = new App();
const configPath = (app.node.tryGetContext('config') as string | undefined) ?? 'masv-relay.config.jsonc';
try {
  const config = loadConfigFile(configPath);
  new MasvRelayStack(app, (app.node.tryGetContext('stackName') as string | undefined) ?? 'MasvRelay', {
    config,
    description: 'masv-relay: delivers S3 objects into MASV packages',
  });
} catch (error) {
  if (error instanceof ConfigError) {
    console.error(error.message);
    process.exit(1);
  }
  throw error;
}
Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
