"""The static site: incident pages, the index with search, stats, the public status page.

`build.build_site` is the entry point (`incidentctl site build`); public.py decides
what the public may see, and everything else only renders what it is given.
"""
