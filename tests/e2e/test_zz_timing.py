import time
import pytest
from tests.personas import populate
from tests.e2e.fhir import live_server
from dmp.entrypoints.fhir.app import create_app
from dmp.services.directory import issue_token

def test_timing(ctx):
    t=time.perf_counter(); cast=populate(ctx); t1=time.perf_counter()
    for n in ("bruno","chloe","damien","samuel","hugo"): issue_token(ctx, cast.professionals[n].rpps)
    t2=time.perf_counter()
    with live_server(create_app(ctx)) as b: t3=time.perf_counter()
    t4=time.perf_counter()
    print(f"\npopulate {t1-t:.2f} tokens {t2-t1:.2f} start {t3-t2:.2f} stop {t4-t3:.2f}")
