"""Demo data: seeded synthetic face crops (:mod:`~core.demo.synthetic`) and the
projects the ``skintrace`` command makes by itself (:mod:`~core.demo.projects`)."""
