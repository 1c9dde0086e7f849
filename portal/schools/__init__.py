"""Trusts and schools: one installation, many schools, each isolated from the others.

``models`` (Trust, School, deputy DSLs, trust roles), ``isolation`` (the one place where every
query is limited to the school in scope), ``context`` (which school a request is about),
``signin`` (accounts and the school they are signed in to), ``operations`` (create a school),
``transfer`` (export a school, import it elsewhere, remove it).
"""
