"""Under gevent, checking an uploaded photo runs off the loop: other greenlets keep running."""
import subprocess
import sys
import textwrap

from tests.integration.processes import ROOT

SCRIPT = textwrap.dedent("""
    from gevent import monkey; monkey.patch_all()
    import io, gevent
    from PIL import Image
    from portal.attachments import images
    from portal.cpu import off_the_loop

    photo = io.BytesIO()
    Image.effect_noise((4000, 3000), 64).convert("RGB").save(photo, format="JPEG", quality=95)
    ticks = []

    def ticker():
        while True:
            ticks.append(1)
            gevent.sleep(0.001)

    gevent.spawn(ticker)
    gevent.sleep(0.01)
    before = len(ticks)
    checked = off_the_loop(images.check, photo.getvalue())
    during = len(ticks) - before
    before = len(ticks)
    images.check(photo.getvalue())  # the same work on the loop itself: nothing else runs
    blocked = len(ticks) - before
    print(checked.width, checked.height, during > 0, blocked)
""")


def test_the_photo_check_lets_other_greenlets_run(tmp_path):
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True,
                            cwd=ROOT, timeout=120)
    assert result.returncode == 0, result.stderr[-2000:]
    assert result.stdout.split() == ["4000", "3000", "True", "0"]
