from . import test_pagbank
