// TAP for the browser scripts: ok() prints a line, check() runs a step and
// prints whether it held (a step returns nothing or true, or {ok, diag});
// plan() prints the count and gives the exit status.
let n = 0, failed = 0;

export function ok(cond, what, diag) {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? '' : 'not '}ok ${n} - ${what}`);
  if (!cond && diag) console.log(`# ${String(diag).split('\n').join('\n# ')}`);
}

export async function check(what, fn) {
  try {
    const r = await fn();
    ok(r === undefined || r === true || (r && r.ok), what, r && r.diag);
  } catch (e) {
    ok(false, what, e.stack || e.message);
  }
}

export function plan() {
  console.log(`1..${n}`);
  return failed ? 1 : 0;
}
