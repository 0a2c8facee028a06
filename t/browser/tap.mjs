// TAP for the browser scripts: ok() prints a line, check() runs a step
// and prints its line (a thrown error or {ok: false, diag} fails it),
// done() prints the plan and says how the run ended.
let n = 0, failed = 0;

export function ok(cond, what, diag) {
  n++;
  if (!cond) failed++;
  console.log(`${cond ? '' : 'not '}ok ${n} - ${what}`);
  if (!cond && diag) console.log(`# ${String(diag).split('\n').join('\n# ')}`);
}

// onFail(n): what to keep of a failed step (a screenshot)
export async function check(what, fn, onFail) {
  try {
    const r = await fn();
    ok(r === undefined || r === true || (r && r.ok), what, r && r.diag);
  } catch (e) {
    ok(false, what, e.stack || e.message);
    if (onFail) await onFail(n).catch(() => {});
  }
}

export function done() {
  console.log(`1..${n}`);
  return failed ? 1 : 0;
}
