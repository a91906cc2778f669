pytest_plugins = [
    "tests.support.brokers",
    "tests.support.flowhost_fixtures",
    "tests.support.processes",
    "tests.support.temp_dirs",
    "tests.support.tiers",
]
