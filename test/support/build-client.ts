import { execFileSync } from 'node:child_process';

/** vitest globalSetup: the client library's tests run its built JavaScript, so build it first. */
export default function setup(): void {
  execFileSync('npm', ['run', '--silent', 'build:client'], { stdio: 'inherit' });
}
