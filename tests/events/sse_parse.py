"""A minimal SSE parser for the tests: frames → {"id", "data", "comment", "retry"} dicts."""
import json


def parse_frames(buffer: str):
    """Split complete frames off ``buffer``; return (frames, the incomplete rest)."""
    frames = []
    while "\n\n" in buffer:
        block, buffer = buffer.split("\n\n", 1)
        frame = {"id": None, "data": None, "comment": None, "retry": None}
        data_lines = []
        for line in block.split("\n"):
            if line.startswith(":"):
                frame["comment"] = line[1:].strip()
            elif line.startswith("id: "):
                frame["id"] = line[4:]
            elif line.startswith("retry: "):
                frame["retry"] = int(line[7:])
            elif line.startswith("data: "):
                data_lines.append(line[6:])
        if data_lines:
            frame["data"] = json.loads("\n".join(data_lines))
        frames.append(frame)
    return frames, buffer
