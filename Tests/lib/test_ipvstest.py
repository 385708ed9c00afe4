"""Host-side tests of ipvstest.py (python3 -m unittest discover -s Tests/lib; Scripts/test runs
them). The namespace helpers need a kernel with IPVS and are exercised by every run of the
differential suite and the benchmark in the VM, not here."""

import os
import sys
import tempfile
import unittest

sys.dont_write_bytecode = True
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import ipvstest  # noqa: E402

CASES = os.path.join(ipvstest.DIFFERENTIAL, "cases")
GOLDEN = os.path.join(ipvstest.DIFFERENTIAL, "golden")


class Formats(unittest.TestCase):
    def test_every_golden_file_is_written_back_byte_for_byte(self):
        with tempfile.TemporaryDirectory() as tmp:
            for fn in sorted(os.listdir(GOLDEN)):
                src = os.path.join(GOLDEN, fn)
                dst = os.path.join(tmp, fn)
                ipvstest.write_golden(dst, [t.text for t in ipvstest.read_transcripts(src).values()])
                with open(src, "rb") as a, open(dst, "rb") as b:
                    self.assertEqual(a.read(), b.read(), fn)

    def test_transcripts_copy_their_cases_lines(self):
        cases = ipvstest.load_cases(CASES)
        self.assertGreater(len(cases), 200)
        goldens = {}
        for c in cases:
            if c.topic not in goldens:
                goldens[c.topic] = ipvstest.read_transcripts(os.path.join(GOLDEN, c.topic + ".golden"))
            t = goldens[c.topic][c.name]
            copied = [line for line in t.lines[1:] if line[:1] in ("$", "%", "<")]
            self.assertEqual(copied, [line for st in c.steps for line in st.header_lines()], c.name)
            self.assertEqual([r.text for r in t.runs], c.commands(), c.name)
            self.assertEqual([r.stdin_lines for r in t.runs],
                             [st.stdin_lines for st in c.steps if st.kind == "$"], c.name)
            self.assertTrue(all(r.status is not None for r in t.runs), c.name)

    def test_a_transcript_read_back(self):
        lines = ["=== demo", "$ -R", "< -A -t 10.0.0.1:80", "<~ x\\ty"]
        lines += ipvstest.output_lines(b"one\n\ntwo", b"err\n", ipvstest.status_text(-11))
        lines += ["% true", "$", "? 0"]
        text = "# comment\n" + "\n".join(lines) + "\n\n"
        t = ipvstest.parse_transcripts(text)["demo"]
        self.assertEqual(t.text, "\n".join(lines) + "\n")
        first, second = t.runs
        self.assertEqual(first.text, "-R")
        self.assertEqual(first.stdin_lines, ["< -A -t 10.0.0.1:80", "<~ x\\ty"])
        self.assertEqual(first.stdout, ["one", "", "two"])
        self.assertIn("\\ no newline at end of stdout", t.lines)
        self.assertEqual(first.stderr, ["err"])
        self.assertEqual(first.status, "139")
        self.assertEqual((second.text, second.stdout, second.status), ("", [], "0"))

    def test_case_file_stdin_and_errors(self):
        with tempfile.TemporaryDirectory() as tmp:
            path = os.path.join(tmp, "t.cases")

            def parse(text):
                with open(path, "w") as f:
                    f.write(text)
                return ipvstest.parse_case_file(path)

            c, = parse("# c\n=== a-1\n$ -R\n< -A -t 10.0.0.1:80\n<\n<~ x\\r\\n\\x41\n% true\n$ 'a b' \"\"\n")
            self.assertEqual((c.name, c.topic), ("a-1", "t"))
            self.assertEqual(c.steps[0].stdin, b"-A -t 10.0.0.1:80\n\nx\r\nA")
            self.assertEqual([st.kind for st in c.steps], ["$", "%", "$"])
            self.assertEqual(c.steps[2].argv(), ["a b", ""])
            for bad in ("$ -Ln\n", "=== Bad\n$\n", "=== a\n% x\n< y\n", "=== a\n$ 'x\n", "=== a\n> x\n"):
                with self.assertRaises(ipvstest.CaseFormatError, msg=bad):
                    parse(bad)

    def test_select(self):
        cases = ipvstest.load_cases(CASES)
        restore = ipvstest.select(cases, ["restore"])
        self.assertTrue(restore and all(c.topic == "restore" for c in restore))
        self.assertEqual(ipvstest.select(cases, []), cases)
        some = ipvstest.select(cases, ["restore-*", cases[0].name])
        self.assertEqual(len(some), len(set(c.name for c in some)))


class Processes(unittest.TestCase):
    def test_run_captures_and_times_out(self):
        r = ipvstest.run(["sh", "-c", "cat; echo err >&2; exit 3"], stdin=b"in")
        self.assertEqual((r.stdout, r.stderr, r.returncode, r.timed_out), (b"in", b"err\n", 3, False))
        r = ipvstest.run(["sh", "-c", "echo out; echo err >&2"], merge_stderr=True)
        self.assertEqual((r.stdout, r.stderr, r.ok), (b"out\nerr\n", b"", True))
        r = ipvstest.run(["sh", "-c", "echo $LC_ALL; pwd"], cwd="/")
        self.assertEqual(r.stdout, b"C\n/\n")
        r = ipvstest.run(["sleep", "5"], timeout=0.3)
        self.assertTrue(r.timed_out)
        self.assertIsNone(r.returncode)
        r = ipvstest.run(["ipvsadm"], executable="/nonexistent/ipvsadm")
        self.assertIsInstance(r.error, OSError)

    def test_spawn_timed(self):
        with tempfile.TemporaryDirectory() as tmp:
            out = os.path.join(tmp, "out")
            r = ipvstest.spawn_timed(["/bin/sh", "-c", "echo hi; exit 3"], stdout_path=out)
            self.assertEqual(r["status"], 3)
            self.assertGreater(r["wall_ms"], 0)
            with open(out) as f:
                self.assertEqual(f.read(), "hi\n")
            r = ipvstest.spawn_timed(["/bin/sleep", "5"], timeout=1)
            self.assertEqual(r["status"], -9)
            self.assertLess(r["wall_ms"], 4000)


class Results(unittest.TestCase):
    def test_tally_prints_each_check_and_the_summary_scripts_test_reads(self):
        import io
        out = io.StringIO()
        tally = ipvstest.Tally(detail_lines=2, out=out)
        self.assertTrue(tally.check("one", True))
        self.assertFalse(tally.check("two", False, "why\nand\nmore"))
        tally.passes()
        tally.fails("three")
        self.assertEqual(tally.summary(), 1)
        self.assertEqual(out.getvalue(), "PASS one\nFAIL two\n    why\n    and\nFAIL three\n2 passed, 2 failed\n")
        self.assertEqual(ipvstest.Tally(out=io.StringIO()).summary(), 0)

    def test_check_sh_tallies_as_the_python_one(self):
        script = ('. "%s"; check one true; check two sh -c "echo why; exit 1"; report three 0; '
                  'report four 1 "a reason"; summary; echo "status $?"' % os.path.join(ipvstest.LIB, "check.sh"))
        r = ipvstest.run(["bash", "-c", script])
        self.assertEqual(r.stdout.decode(), "PASS one\nFAIL two\n    why\nPASS three\nFAIL four\n    a reason\n"
                         "2 passed, 2 failed\nstatus 1\n")


if __name__ == "__main__":
    unittest.main()
