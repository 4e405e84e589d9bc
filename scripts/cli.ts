import { parseArgs } from 'node:util';

type Options = Record<string, { type: 'string' | 'boolean'; short?: string }>;
type Values<O extends Options> = { [K in keyof O]?: O[K]['type'] extends 'boolean' ? boolean : string };

/**
 * The options of one of the project's commands (`npm run status`, `npm run smoke`), parsed strictly:
 * a bad option prints `npm run <name>: <why>` and the usage, exit 2; `--help` prints the usage, exit 0.
 */
export function commandOptions<O extends Options>(name: string, usage: string, options: O): Values<O> {
  let values: Values<O> & { help?: boolean };
  try {
    values = parseArgs({ options: { ...options, help: { type: 'boolean', short: 'h' } }, strict: true }).values as Values<O> & { help?: boolean };
  } catch (error) {
    console.error(`npm run ${name}: ${error instanceof Error ? error.message : String(error)}\n${usage}`);
    process.exit(2);
  }
  if (values.help) {
    console.log(usage);
    process.exit(0);
  }
  return values;
}
