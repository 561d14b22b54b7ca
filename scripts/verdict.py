#!/usr/bin/env python3
# SPDX-License-Identifier: GPL-2.0
"""Judge a guest console log: KUnit results, splats, guest markers.

    verdict.py --kernel-src DIR [--expect-suite NAME ...] [--qemu-rc N] LOG

KTAP is cut out of the console at every top-level "KTAP version" line (the
boot-time block and one per module load) and each block is parsed by the
kernel's own tools/testing/kunit/kunit.py parse. Console lines that the
sched_ext CI treats as failures (BUG:, WARNING:, Oops, lockdep and RCU
reports, Call Trace:, panics) fail the run, as do guest markers that say
something failed, a guest that did not reach its end, and expected suites
that never reported.

Prints a summary and, last, "N passed, N failed"; exits 1 on any failure.
"""

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile

# Kernel console lines that make a run fail, whatever the tests said.
SPLATS = [
    (re.compile(r'\bBUG: '), 'BUG'),
    (re.compile(r'\bWARNING: '), 'WARNING'),
    (re.compile(r'\bOops\b'), 'Oops'),
    (re.compile(r'Kernel panic'), 'panic'),
    (re.compile(r'Call Trace:'), 'Call Trace'),
    (re.compile(r'general protection fault'), 'general protection fault'),
    (re.compile(r'possible recursive locking detected|'
                r'possible circular locking dependency|'
                r'inconsistent lock state|'
                r'lock held when returning to user space|'
                r'possible irq lock inversion|'
                r'INFO: lockdep is turned off'), 'lockdep'),
    (re.compile(r'suspicious RCU usage'), 'RCU (lockdep)'),
    (re.compile(r'rcu: INFO: .* detected stalls?|rcu_.*self-detected stall'),
     'RCU stall'),
    (re.compile(r'watchdog: BUG: soft lockup|hung_task|blocked for more than'),
     'lockup'),
    (re.compile(r'\b(UBSAN|KASAN|KCSAN|kfence):'), 'sanitizer'),
]
# A scheduler's error exit. The selftests provoke these on purpose, so they
# fail a run only inside a scheduler scenario (scx_qmap, scx_central).
SCX_ERROR_EXIT = re.compile(
    r'sched_ext: BPF (sub-)?scheduler ".*" disabled \((runtime error|'
    r'scx_bpf_error|runnable task stall|reenqueue limit|'
    r'rescue bandwidth overload|<UNKNOWN>)\)')
SELFTEST = re.compile(r'scx_rs-selftest: (not )?ok \d+ (\S+) #(.*)$')
SCENARIO = re.compile(r'scx_rs-guest: scenario (\S+): (start|end)')
TIMESTAMP = re.compile(r'^\[\s*\d+\.\d+\]\s?')
KTAP_START = re.compile(r'^\s*KTAP version \d+')


def strip(line):
    return TIMESTAMP.sub('', line.rstrip('\r\n'))


def ktap_blocks(lines):
    """Top-level KTAP blocks: a "KTAP version" line with no indentation
    (after the timestamp) starts one; it runs to the next such line."""
    blocks, cur = [], None
    for raw in lines:
        line = strip(raw)
        if KTAP_START.match(line) and not line.startswith((' ', '\t')):
            cur = []
            blocks.append(cur)
        if cur is not None:
            cur.append(line)
    return blocks


def parse_block(kunit_py, block, idx, outdir):
    """Run kunit.py parse on one block; return (suite summaries, counts)."""
    path = os.path.join(outdir, f'ktap-{idx}.log')
    jpath = os.path.join(outdir, f'ktap-{idx}.json')
    with open(path, 'w') as f:
        f.write('\n'.join(block) + '\n')
    proc = subprocess.run([sys.executable, kunit_py, 'parse', path, f'--json={jpath}'],
                          capture_output=True, text=True)
    sys.stdout.write(proc.stdout)
    if proc.stderr:
        sys.stdout.write(proc.stderr)
    try:
        with open(jpath) as f:
            res = json.load(f)
    except (OSError, ValueError):
        return [], {'passed': 0, 'failed': 1, 'crashed': 0, 'skipped': 0,
                    'errors': 1}
    suites = []

    def walk(group):
        for sub in group.get('sub_groups', []):
            suites.append((sub['name'], sub['misc']))
            walk(sub)
    walk(res)
    return suites, res['misc']


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument('--kernel-src', required=True)
    ap.add_argument('--expect-suite', action='append', default=[])
    ap.add_argument('--qemu-rc', type=int, default=0)
    ap.add_argument('--allow', action='append', default=[],
                    help='regex of console lines not to treat as splats')
    ap.add_argument('--counts', help='append "passed failed skipped" here')
    ap.add_argument('--known-failures',
                    help='file of "selftest<TAB>reason" lines: failures '
                         'the unpatched kernel shares, counted as skipped')
    ap.add_argument('log')
    args = ap.parse_args()

    with open(args.log, errors='replace') as f:
        lines = f.readlines()
    kunit_py = os.path.join(args.kernel_src, 'tools/testing/kunit/kunit.py')
    problems = []  # failed KUnit suites, by name

    allow = [re.compile(a) for a in args.allow]
    splats, guest_fail, host_notes = [], [], []
    selftests = {}  # name -> (PASS|SKIP|FAIL, directive)
    skip_reason = ''
    scenario, scenarios, scx_exits = None, {}, []
    for n, raw in enumerate(lines, 1):
        line = strip(raw)
        m = re.search(r'scx_rs-selftest: SKIP: (.*)$', line)
        if m:
            skip_reason = m.group(1)
        m = SELFTEST.search(line)
        if m:
            directive = m.group(3).strip()
            if directive.upper().startswith('SKIP') and skip_reason:
                directive = skip_reason
            skip_reason = ''
            status = ('FAIL' if m.group(1) else
                      'SKIP' if m.group(3).strip().upper().startswith('SKIP') else 'PASS')
            selftests[m.group(2)] = (status, directive)
        m = SCENARIO.search(line)
        if m:
            scenario = m.group(1) if m.group(2) == 'start' else None
            scenarios[m.group(1)] = m.group(2)
        # Under injected allocation failures a sub-scheduler may exit
        # through scx_error() as the C code makes it; the root may not.
        if scenario == 'failinject' and 'sub-scheduler' in line:
            pass
        # scx_rs_diff provokes error exits of its own schedulers on
        # purpose, and compares them between C and Rust itself.
        elif scenario == 'diff' and '"scx_rs_diff_' in line:
            pass
        elif scenario and SCX_ERROR_EXIT.search(line):
            scx_exits.append(f'console line {n}: scenario {scenario}: {line.strip()}')
        if any(a.search(line) for a in allow):
            continue
        for rx, what in SPLATS:
            if rx.search(line):
                splats.append(f'console line {n}: {what}: {line.strip()}')
                break
        if 'scx_rs-guest: FAIL:' in line:
            guest_fail.append('guest: ' + line.split('scx_rs-guest: ', 1)[1])
        if 'scx_rs-host: ' in line:
            host_notes.append(line.split('scx_rs-host: ', 1)[1])

    # Rig-level checks: each counts once, however many lines it matched.
    checks = []
    checks.append(('console free of splats', splats))
    checks.append(('guest steps succeeded', guest_fail))
    end = any('scx_rs-guest: done' in line for line in lines)
    checks.append(('guest reached its end and powered off',
                   [] if end and args.qemu_rc == 0 else
                   host_notes + ([] if end else ['no "scx_rs-guest: done" marker']) +
                   ([f'QEMU exited with status {args.qemu_rc}'] if args.qemu_rc else [])))
    for name, state in scenarios.items():
        checks.append((f'scenario {name} ran to its end without error exit',
                       ([] if state == 'end' else [f'scenario {name} did not finish']) +
                       [e for e in scx_exits if f'scenario {name}:' in e]))

    st_passed = st_failed = st_skipped = 0
    known = {}
    if args.known_failures:
        with open(args.known_failures) as f:
            for kl in f:
                kl = kl.split('#', 1)[0].rstrip()
                if kl:
                    name, _, why = kl.partition('\t')
                    known[name.strip()] = why.strip()
    started = any('scx_rs-guest: selftests: start' in line for line in lines)
    if started:
        results_seen = any('scx_rs-selftest: RESULTS:' in line for line in lines)
        checks.append(('sched_ext selftests runner completed',
                       [] if results_seen else ['no RESULTS from the runner (aborted?)']))
        print()
        print('sched_ext selftests:')
        for name, (status, directive) in selftests.items():
            note = ''
            if status == 'FAIL' and name in known:
                status, note = 'KNOWN', known[name]
                st_skipped += 1
            elif status == 'FAIL':
                st_failed += 1
                problems.append(f'selftest {name} failed')
            elif status == 'SKIP':
                st_skipped += 1
                note = directive
            else:
                st_passed += 1
                if name in known:
                    note = 'listed as a known failure but passes'
            print(f'  {status:5} {name}' + (f'  ({note})' if note else ''))
        print(f'sched_ext selftests: {st_passed} passed, {st_failed} failed, '
              f'{st_skipped} skipped or known')

    passed = failed = skipped = 0
    seen = set()
    with tempfile.TemporaryDirectory() as tmp:
        for i, block in enumerate(ktap_blocks(lines)):
            suites, misc = parse_block(kunit_py, block, i, tmp)
            for name, c in suites:
                seen.add(name)
            passed += misc['passed']
            failed += misc['failed'] + misc['crashed'] + misc['errors']
            skipped += misc['skipped']
            for name, c in suites:
                bad = c['failed'] + c['crashed'] + c['errors']
                if bad:
                    problems.append(f'KUnit suite {name}: {bad} test(s) failed')

    for s in args.expect_suite:
        checks.append((f'KUnit suite {s} reported',
                       [] if s in seen else [f'KUnit suite {s} did not report (module not loaded?)']))

    print()
    print(f'KUnit: {passed} passed, {failed} failed, {skipped} skipped '
          f'in {len(seen)} suite(s) from {args.log}')
    rig_failed = 0
    for name, why in checks:
        if why:
            rig_failed += 1
            print(f'FAIL: {name}:')
            for w in why[:20]:
                print(f'    {w}')
            if len(why) > 20:
                print(f'    ... and {len(why) - 20} more')
    for p in problems:
        print(f'FAIL: {p}')
    rig_passed = len(checks) - rig_failed
    passed += rig_passed + st_passed
    failed += rig_failed + st_failed
    skipped += st_skipped
    print(f'guest: {passed} passed, {failed} failed, {skipped} skipped')
    if args.counts:
        with open(args.counts, 'a') as f:
            f.write(f'{passed} {failed} {skipped}\n')
    return 1 if failed or problems else 0


if __name__ == '__main__':
    sys.exit(main())
