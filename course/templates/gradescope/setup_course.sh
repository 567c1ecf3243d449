# --- The course kit's steps (course/templates/gradescope/setup_course.sh, filled in by `python -m course gradescope`)
# CPU-only torch and torchvision at the kit's pins (pyproject.toml): Gradescope has no GPU, and the CUDA wheels
# are gigabytes the image does not need. Then the rest of the labs' packages.
mamba run -n {{ENV}} pip install --no-cache-dir "{{TORCH}}" "{{TORCHVISION}}" --index-url https://download.pytorch.org/whl/cpu
mamba run -n {{ENV}} pip install --no-cache-dir -r {{SOURCE}}/requirements.txt
# The datasets, from the same sources and with the same checksums as `python -m course data` (a stand-alone copy of
# course/core/data.py): torchvision's mirrors, then npm, then Debian. run_autograder exports COURSE_DATA={{DATA}}.
mkdir -p {{DATA}}
mamba run -n {{ENV}} python {{SOURCE}}/course_data.py {{DATA}}
