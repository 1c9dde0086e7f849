"""Classroom acknowledgements: pupils agree to their online-safety rules in class, and the
teacher who ran the session witnesses each agreement (issue 7).

``models`` holds the session and its pending entries, ``versions`` finds the rules a class
or pupil should see, ``rendering`` turns the Markdown into safe HTML (and screens for young
pupils), ``operations`` changes state (flush only; views commit).
"""
