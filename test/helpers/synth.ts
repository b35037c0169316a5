import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { App, type CfnElement, type Stack, Validations } from 'aws-cdk-lib';
import type { Template } from 'aws-cdk-lib/assertions';
import { AwsSolutionsChecks, ServerlessChecks } from 'cdk-nag';
import { vi } from 'vitest';

/** An app that synthesizes without bundling the functions (bundles are `npm run synth`'s test). */
export const unbundledApp = (outdir?: string) =>
  new App({ context: { 'aws:cdk:bundling-stacks': [] }, ...(outdir ? { outdir } : {}) });

/** The logical id of a construct's CloudFormation resource in `stack`. */
export const logicalIdIn = (stack: Stack, construct: { node: { defaultChild?: unknown } }) =>
  stack.getLogicalId(construct.node.defaultChild as CfnElement);

export interface PolicyStatement {
  Sid?: string;
  Effect?: string;
  Action: string | string[];
  Resource: unknown;
  Condition?: unknown;
}

/** Every statement of the IAM policies attached to a role. */
export function roleStatements(template: Template, roleLogicalId: string): PolicyStatement[] {
  return Object.values(template.findResources('AWS::IAM::Policy'))
    .filter((p) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === roleLogicalId))
    .flatMap((p) => p.Properties.PolicyDocument.Statement as PolicyStatement[]);
}

/** The actions of some statements, as one list. */
export const actionsOf = (statements: Array<{ Action: string | string[] }>) =>
  statements.flatMap((s) => [s.Action].flat());

/**
 * Builds an app, synthesizes it with cdk-nag's packs as CDK validation plugins (as `cdk synth`
 * does) and returns the unacknowledged findings as `rule @ construct paths`.
 */
export function nagFindings(build: (app: App) => void): string[] {
  const outdir = mkdtempSync(join(tmpdir(), 'masv-relay-nag-'));
  const app = unbundledApp(outdir);
  build(app);
  Validations.of(app).addPlugins(new AwsSolutionsChecks(app), new ServerlessChecks(app));
  const quiet = vi.spyOn(console, 'error').mockImplementation(() => undefined);
  try {
    app.synth();
    return [];
  } catch {
    const report = JSON.parse(readFileSync(join(outdir, 'validation-report.json'), 'utf8')) as {
      pluginReports: Array<{
        violations: Array<{ ruleName: string; violatingConstructs: Array<{ constructPath: string }> }>;
      }>;
    };
    return report.pluginReports.flatMap((r) =>
      r.violations.map(
        (v) => `${v.ruleName} @ ${v.violatingConstructs.map((c) => c.constructPath).join(', ')}`,
      ),
    );
  } finally {
    quiet.mockRestore();
  }
}
